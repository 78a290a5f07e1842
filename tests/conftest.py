import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"

# Scans logs and responses of the whole session for the secrets the tests use (tests/security).
pytest_plugins = ["tests.security.secret_scan"]


@pytest.fixture(autouse=True)
def _isolated_cache_and_static(settings):
    # A fast hasher: factories hash a password for every user they make.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate-limit counters must not leak from one test to the next.
    caches["default"].clear()
    # No collectstatic in tests: plain storage resolves {% static %} through the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Staff tests sign in with force_login (no second factor); tests/accounts/test_mfa.py and
    # tests/browser/test_two_factor.py turn the rule on.
    settings.STAFF_MFA_REQUIRED = False


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True, is_superuser=True)
