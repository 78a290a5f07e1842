"""The one way anything is published to browsers and scripts: a user's channel-layer group."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


STAFF_GROUP = "staff"


def publish_to_user(user_id: int, kind: str, payload: dict) -> None:
    """Send after the surrounding transaction commits, so nobody sees a rolled-back state."""
    message = {"type": "event.publish", "payload": {"type": kind, **payload}}

    def send() -> None:
        layer = get_channel_layer()
        async_to_sync(layer.group_send)(user_group(user_id), message)
        async_to_sync(layer.group_send)(STAFF_GROUP, message)

    transaction.on_commit(send)
