"""The two floors of the rooms benchmark: what a room broadcast costs with nothing of ours in it.

    python -m bench.rooms_floor websockets PORT   # bare websockets broadcast server
    python -m bench.rooms_floor channels PORT     # bare Channels group broadcast on Daphne

Both serve ``/ws/rooms/<n>/`` and answer every ``{"type": "send", "body": ...}`` frame by sending
``{"type": "message", "body": ...}`` to every connection of that room, the sender included: the
same frames, sizes and fan-out as the real rooms, without authentication, permission checks,
numbering, persistence or presence. The Channels floor is one Daphne process with the in-memory
channel layer and an ``AsyncJsonWebsocketConsumer`` doing ``group_add`` and ``group_send``, as
ours does.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from typing import Any


def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    rooms: dict[str, set[ServerConnection]] = defaultdict(set)

    async def handler(connection: ServerConnection) -> None:
        room = connection.request.path if connection.request else ""
        members = rooms[room]
        members.add(connection)
        try:
            async for raw in connection:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(frame, dict) and frame.get("type") == "send":
                    broadcast(members, json.dumps({"type": "message", "body": frame.get("body")}, ensure_ascii=False))
        finally:
            members.discard(connection)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None) as server:
            await server.serve_forever()

    asyncio.run(main())


def serve_channels(port: int) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
        SECRET_KEY="bench-floor-only",
    )
    django.setup()
    from channels.generic.websocket import AsyncJsonWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from daphne.server import Server
    from django.urls import path

    class BroadcastConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            self.group = f"room.{self.scope['url_route']['kwargs']['room']}"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

        async def receive_json(self, content: Any, **kwargs: Any) -> None:
            if isinstance(content, dict) and content.get("type") == "send":
                frame = {"type": "message", "body": content.get("body")}
                await self.channel_layer.group_send(self.group, {"type": "room.message", "frame": frame})

        async def room_message(self, event: dict[str, Any]) -> None:
            await self.send_json(event["frame"])

    application = ProtocolTypeRouter(
        {"websocket": URLRouter([path("ws/rooms/<int:room>/", BroadcastConsumer.as_asgi())])}
    )
    Server(
        application=application,
        endpoints=[f"tcp:port={port}:interface=127.0.0.1"],
        signal_handlers=True,
        verbosity=0,
    ).run()


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    {"websockets": serve_websockets, "channels": serve_channels}[kind](port)


if __name__ == "__main__":
    main()
