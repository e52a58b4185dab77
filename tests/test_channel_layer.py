"""The embedded default's in-memory channel layer: same delivery, expiry swept at most once per interval."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import ChannelFull
from django.conf import settings

from mediation.channel_layer import InMemoryChannelLayer


def test_the_embedded_default_uses_it() -> None:
    if settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
        pytest.skip("the scale lane runs on Redis")
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "mediation.channel_layer.InMemoryChannelLayer"


async def test_a_group_message_reaches_every_member_once() -> None:
    layer = InMemoryChannelLayer()
    members = [await layer.new_channel() for _ in range(4)]
    for channel in members:
        await layer.group_add("room.1", channel)
    await layer.group_send("room.1", {"type": "room.message", "seq": 1})
    for channel in members:
        assert await asyncio.wait_for(layer.receive(channel), 1) == {"type": "room.message", "seq": 1}
    assert layer.channels == {}  # nothing left queued


async def test_expired_messages_and_memberships_go_at_the_next_sweep() -> None:
    layer = InMemoryChannelLayer(expiry=0.05, group_expiry=1, capacity=1, clean_interval=0.2)
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room.1", stale)
    await layer.send(stale, {"type": "x"})  # never received: expires after 0.05 s
    layer._clean_expired()  # the first sweep runs at once
    assert stale in layer.channels
    await asyncio.sleep(0.1)
    layer._clean_expired()  # expired, but within the interval: not swept yet
    assert stale in layer.channels
    with pytest.raises(ChannelFull):
        await layer.send(stale, {"type": "y"})
    await asyncio.sleep(0.15)
    await layer.group_add("room.1", fresh)
    await layer.group_send("room.1", {"type": "z"})  # sweeps first: the stale channel leaves the group
    assert stale not in layer.groups["room.1"]
    assert stale not in layer.channels
    assert await asyncio.wait_for(layer.receive(fresh), 1) == {"type": "z"}
