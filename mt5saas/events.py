"""The one way anything is published to browsers and scripts: a user's channel-layer group."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


STAFF_GROUP = "staff"


def publish_to_user(user_id: int, kind: str, payload: dict) -> None:
    """Send after the surrounding transaction commits, so nobody sees a rolled-back state."""
    publish_many(user_id, [(kind, payload)])


def publish_many(user_id: int, events: list[tuple[str, dict]]) -> None:
    """Several events of one user, in order, after the commit; one hop into the channel
    layer for all of them (each hop from sync code costs an event loop round trip)."""
    messages = [{"type": "event.publish", "payload": {"type": kind, **payload}} for kind, payload in events]

    async def send_all() -> None:
        layer = get_channel_layer()
        for message in messages:
            await layer.group_send(user_group(user_id), message)
            await layer.group_send(STAFF_GROUP, message)

    transaction.on_commit(async_to_sync(send_all))
