"""Websocket routes of every app (none yet: the sessions issue adds the rooms)."""

from typing import Any

websocket_urlpatterns: list[Any] = []
