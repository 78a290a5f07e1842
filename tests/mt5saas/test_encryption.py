import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from accounts.models import WebhookToken
from accounts.services import webhook_token_reveal
from mt5saas import crypto
from tests.factories import UserFactory


def test_encrypt_round_trip_and_ciphertext_hides_the_value(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    ciphertext = crypto.encrypt("s3cret-mt5-password")

    assert "s3cret" not in ciphertext
    assert crypto.decrypt(ciphertext) == "s3cret-mt5-password"


@pytest.mark.django_db
def test_rotate_encryption_keys_moves_every_value_to_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    users = UserFactory.create_batch(3)
    tokens = {user.pk: webhook_token_reveal(user=user) for user in users}

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone now

    for row in WebhookToken.objects.all():
        assert Fernet(new.encode()).decrypt(row.ciphertext.encode()).decode() == tokens[row.owner_id]
        assert webhook_token_reveal(user=row.owner) == tokens[row.owner_id]


@pytest.mark.django_db
def test_rotate_encryption_keys_without_the_old_key_fails_and_changes_nothing(settings):
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    webhook_token_reveal(user=UserFactory())
    before = list(WebhookToken.objects.values_list("ciphertext", flat=True))

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="opens with none of the configured keys"):
        call_command("rotate_encryption_keys")

    assert list(WebhookToken.objects.values_list("ciphertext", flat=True)) == before
