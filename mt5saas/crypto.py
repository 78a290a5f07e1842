"""The project's one encryption helper (MultiFernet over FIELD_ENCRYPTION_KEYS) and
the keyed digests used to look secrets up without storing them."""

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class DecryptionError(Exception):
    """No configured key opens this ciphertext (a key was dropped too early)."""


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        _digest_keys.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("ciphertext does not open with any FIELD_ENCRYPTION_KEYS entry") from None


def reencrypt(ciphertext: str) -> str:
    """The same plaintext under the newest key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("ciphertext does not open with any FIELD_ENCRYPTION_KEYS entry") from None


@functools.cache
def _digest_keys() -> tuple[bytes, ...]:
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return tuple(hashlib.sha256(f"mt5saas.secret-digest:{s}".encode()).digest() for s in secrets)


def secret_digest(secret: str) -> str:
    """HMAC-SHA256 of a secret under the current SECRET_KEY, for storage and lookup."""
    return hmac.new(_digest_keys()[0], secret.encode(), hashlib.sha256).hexdigest()


def secret_digests(secret: str) -> list[str]:
    """Digests under SECRET_KEY and each fallback, current first, so lookups survive a
    SECRET_KEY rotation; the caller re-stores the current digest on a fallback match."""
    return [hmac.new(key, secret.encode(), hashlib.sha256).hexdigest() for key in _digest_keys()]
