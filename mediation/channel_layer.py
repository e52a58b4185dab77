"""The embedded default's channel layer: Channels' in-memory layer, with its expiry sweep throttled.

Channels' ``InMemoryChannelLayer`` walks every channel and every group membership of the process
on each ``receive`` and ``group_send`` to drop expired messages and memberships, so one message to
a room of four costs five walks over all open sockets (two memberships each here: the room and the
user). With 800 sockets that walk was most of the layer's cost per delivery (see the rooms
benchmark in the README). Expiry is measured in tens of seconds (messages, ``expiry``) and hours
(memberships, ``group_expiry``), so sweeping at most once per ``clean_interval`` seconds changes
when an expired item goes by at most that interval, and nothing else.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, *args: Any, clean_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_interval = clean_interval
        self._last_clean = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < self.clean_interval:
            return
        self._last_clean = now
        super()._clean_expired()
