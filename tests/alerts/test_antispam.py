"""Coalescing, the hourly cap with its "n more suppressed" line, and header-safe email."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Delivery, Kind
from alerts.services import alert_raise

from .helpers import prefer


def raise_filled(user, n: int, **kwargs):
    return alert_raise(owner=user, kind=Kind.ORDER_FILLED, title=f"Order {n} filled", text=f"Order {n}.", **kwargs)


@pytest.mark.django_db
def test_identical_alerts_within_the_window_are_counted_once(alice, settings, smtp, sync_queue,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    prefer(alice, Kind.ORDER_FILLED, email=True)
    with django_capture_on_commit_callbacks(execute=True):
        first = raise_filled(alice, 1, coalesce_key="same")
        assert raise_filled(alice, 2, coalesce_key="same") is None
        assert raise_filled(alice, 3, coalesce_key="same") is None
    first.refresh_from_db()
    assert first.repeats == 2 and len(smtp.messages) == 1

    window = timedelta(seconds=settings.ALERTS_COALESCE_S + 1)
    Alert.objects.filter(pk=first.pk).update(created_at=timezone.now() - window)
    with django_capture_on_commit_callbacks(execute=True):
        assert raise_filled(alice, 4, coalesce_key="same") is not None
    assert len(smtp.messages) == 2


@pytest.mark.django_db
def test_hourly_cap_suppresses_then_says_how_many_were_held_back(alice, settings, smtp, sync_queue,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    settings.ALERTS_HOURLY_CAP = 2
    prefer(alice, Kind.ORDER_FILLED, email=True, in_app=True)
    with django_capture_on_commit_callbacks(execute=True):
        alerts = [raise_filled(alice, n) for n in range(5)]
    assert [a.suppressed for a in alerts] == [False, False, True, True, True]
    assert len(smtp.messages) == 2
    assert Delivery.objects.filter(alert__in=alerts[2:]).count() == 0

    Alert.objects.filter(owner=alice).update(created_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        later = raise_filled(alice, 9)
    assert "3 more alert(s) were suppressed by the hourly limit of 2." in later.text
    assert "3 more alert(s) were suppressed" in smtp.messages[-1][1].get_content()


@pytest.mark.django_db
def test_a_subject_cannot_carry_extra_headers(alice, smtp, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.PRICE, email=True)
    with django_capture_on_commit_callbacks(execute=True):
        alert_raise(owner=alice, kind=Kind.PRICE, title="Gold\r\nBcc: thief@example.test\nX-Evil: 1",
                    text="Price alert Gold.")  # fmt: skip

    ((rcpt, message),) = smtp.messages
    assert rcpt == [alice.email]
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "\n" not in message["Subject"] and "Bcc: thief@example.test" in message["Subject"]
    assert Delivery.objects.get().status == "sent"
