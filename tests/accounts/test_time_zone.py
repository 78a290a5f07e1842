"""The trader's time zone: chosen on the Settings signed_in, or taken from the browser until then."""

import pytest

from accounts.models import User


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def zone_of(user: User) -> str:
    user.refresh_from_db()
    return user.time_zone


@pytest.mark.django_db
def test_trader_chooses_a_time_zone_on_the_settings_page(signed_in, alice):
    alice.time_zone = ""
    alice.save()

    before = signed_in.get("/settings").text
    response = signed_in.post("/settings/time-zone", {"time_zone": "Europe/Berlin"}, follow=True)

    assert 'data-testid="time-zone-input"' in before and 'data-time-zone="UTC"' in before
    assert "data-time-zone-unset" in before
    assert zone_of(alice) == "Europe/Berlin"
    assert "Times are shown in Europe/Berlin." in response.text
    assert 'value="Europe/Berlin"' in response.text and "data-time-zone-unset" not in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Mars/Olympus", "", "localtime", "europe/berlin", "x" * 500, "Europe/\x00Berlin"])
def test_an_unknown_time_zone_is_a_form_error_and_changes_nothing(signed_in, alice, name):
    alice.time_zone = "Asia/Tokyo"
    alice.save()

    response = signed_in.post("/settings/time-zone", {"time_zone": name})

    assert response.status_code == 400
    assert 'data-testid="time-zone-error"' in response.text and "is not a time zone" in response.text
    assert zone_of(alice) == "Asia/Tokyo"


@pytest.mark.django_db
def test_the_browsers_zone_is_taken_only_while_none_is_set(signed_in, alice):
    alice.time_zone = ""
    alice.save()

    signed_in.cookies["time_zone"] = "America/Sao_Paulo"
    taken = signed_in.get("/history").text
    signed_in.cookies["time_zone"] = "Asia/Tokyo"
    kept = signed_in.get("/history").text

    assert 'data-time-zone="America/Sao_Paulo"' in taken and 'data-time-zone="America/Sao_Paulo"' in kept
    assert zone_of(alice) == "America/Sao_Paulo"


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", ["Nowhere/Land", "localtime", "\"Europe/Berlin\"", "x" * 300])
def test_a_browser_zone_zoneinfo_does_not_know_leaves_utc(signed_in, alice, cookie):
    alice.time_zone = ""
    alice.save()
    signed_in.cookies["time_zone"] = cookie

    response = signed_in.get("/history")

    assert response.status_code == 200 and 'data-time-zone="UTC"' in response.text
    assert zone_of(alice) == ""


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in_and_change_nothing(client, alice):
    response = client.post("/settings/time-zone", {"time_zone": "Europe/Berlin"})

    assert response.status_code == 302 and response["Location"].startswith("/login")
    assert zone_of(alice) == "UTC"
