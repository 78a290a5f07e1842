"""Row-level tenancy: every user-owned model starts its queries from owned_by()."""

from typing import Self

from django.conf import settings
from django.db import models


class OwnedQuerySet(models.QuerySet):
    def owned_by(self, user) -> Self:
        # Fail closed: no user, an anonymous or a disabled one sees no rows.
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(owner=user)


class OwnedModel(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True


class EncryptedField(models.TextField):
    """Holds Fernet ciphertext from mt5saas.crypto, never plaintext.

    The model instance carries only ciphertext, so a serializer, admin page or log
    line that shows the field shows nothing useful. rotate_encryption_keys finds
    every field of this class.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)
