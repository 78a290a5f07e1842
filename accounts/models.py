from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from mt5saas.models import EncryptedField, OwnedQuerySet


class User(AbstractUser):
    email = models.EmailField("email address")
    name = models.CharField(max_length=150, blank=True)
    picture_url = models.URLField(max_length=500, blank=True)
    # IANA name ("Europe/Berlin") pages show times in; empty until the browser's is taken.
    time_zone = models.CharField(max_length=64, blank=True)

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="user_email_unique_ci", violation_error_message="A user with this email exists."
            ),
        ]

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username

    def save(self, *args, **kwargs) -> None:
        # Stored in lower case, as allauth stores and looks up addresses: a capital typed
        # in the admin would hide the user from Google sign-in, whose sign-up then broke
        # the case-insensitive unique constraint (a 500).
        self.email = self.email.lower()
        super().save(*args, **kwargs)


class WebhookToken(models.Model):
    """The user's one active webhook token (`whk_…`).

    Stored twice, neither in the clear: a keyed digest for constant-time lookup and a
    Fernet copy so the owner can view the URL again. Rotation overwrites both in one
    UPDATE, so the old token stops working at once.
    """

    owner = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="webhook_token")
    digest = models.CharField(max_length=64, unique=True)
    ciphertext = EncryptedField()
    # First characters only, enough for an operator to tell tokens apart.
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(auto_now=True)
    # For alerts without an "id": a byte-identical body within 10 s is TradingView resending.
    dedupe_identical_bodies = models.BooleanField(default=False)
    # Accept alerts only from TradingView's published sender addresses.
    tradingview_only = models.BooleanField(default=False)

    objects = OwnedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.hint}…"


class DemoCredentials(models.Model):
    """The password and API key `manage.py demo` printed for a demo trader, so that running it
    again shows them again instead of breaking what was pasted (the key's only other copy is
    knox's digest). Encrypted; read by the demo command alone."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="+")
    password = EncryptedField()
    api_token = EncryptedField()

    class Meta:
        verbose_name_plural = "demo credentials"

    def __str__(self) -> str:
        return f"demo credentials of {self.user_id}"
