"""mt5saas.staff: the fresh sign-in rule every staff surface applies (ADMIN_REAUTH_MINUTES)."""

import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from mt5saas.staff import SIGNED_IN_AT, staff_signin_fresh


@pytest.mark.parametrize(
    ("ago", "fresh"),
    [(0, True), (60, True), ("stale", False), ("future", False), (None, False), ("text", False), (True, False)],
)
def test_a_session_is_fresh_only_within_admin_reauth(settings, ago, fresh):
    session = {}
    if ago == "stale":
        session[SIGNED_IN_AT] = time.time() - settings.ADMIN_REAUTH_SECONDS - 1
    elif ago == "future":
        session[SIGNED_IN_AT] = time.time() + 3600
    elif ago == "text":
        session[SIGNED_IN_AT] = "yesterday"
    elif ago is not None:
        session[SIGNED_IN_AT] = ago if isinstance(ago, bool) else time.time() - ago
    assert staff_signin_fresh(session) is fresh


def test_a_request_is_judged_by_its_session_and_one_without_is_not_fresh(db):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    assert not staff_signin_fresh(request)
    request.session[SIGNED_IN_AT] = time.time()
    assert staff_signin_fresh(request) and staff_signin_fresh(request.session)
    assert not staff_signin_fresh(None)
