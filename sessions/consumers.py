"""The room websocket: ``/ws/rooms/<room_pk>/``. The frames are documented in the README.

Delivery in Channels is at most once, so the group broadcast is only a hint: each connection
remembers the last number it sent its client and, when a broadcast skips ahead, reads the gap
from the database first. A client that reconnects says ``hello`` with the last number it saw and
gets everything after it, in order. Numbers make duplicates harmless: the client drops any
number it already has, and this side never sends a number twice on one connection.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from asgiref.sync import async_to_sync
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from limits import RateLimitItemPerSecond, storage, strategies

from mediation import permissions
from mediation.models import User
from sessions import negotiation, opening, services
from sessions.models import BlindBidRound, Message, Offer, Room
from sessions.services import RoomError

logger = logging.getLogger(__name__)

REFUSED = 4403  # not allowed in this room (never was, or not any more)
PROTOCOL_VERSION = 1
REPLAY_BATCH = 500
TYPING_EVERY_SECONDS = 2


def group_name(room_id: int) -> str:
    return f"room.{room_id}"


def attachment_frame(message: Message) -> dict[str, Any] | None:
    """The file of a ``file`` message: its name as uploaded, size, sniffed type, hash and link."""
    if message.kind != Message.Kind.FILE:
        return None
    attachment = getattr(message, "attachment", None)
    if attachment is None:
        return None
    return {
        "name": attachment.original_name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": reverse("sessions:attachment", kwargs={"room_pk": message.room_id, "attachment_pk": attachment.pk}),
        "sha256": attachment.sha256,
    }


def message_frame(message: Message) -> dict[str, Any]:
    author = message.author
    return {
        "type": "message",
        "room": message.room_id,
        "seq": message.seq,
        "kind": message.kind,
        "author": {"id": author.pk, "name": author.display_name} if author else None,
        "body": message.body,
        "event": message.event,
        "client_id": message.client_id or None,
        "released_from": message.released_from_id,
        "released": message.released_at is not None,
        "at": timezone.localtime(message.created_at).isoformat(),
        "attachment": attachment_frame(message),
    }


def broadcast(message: Message) -> None:
    """After commit: tell every connection to the room (the hint; gaps are read from the database)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        group_name(message.room_id), {"type": "room.message", "frame": message_frame(message)}
    )


services.register_broadcaster(broadcast)


def close_withdrawn(sender: object, *, case: Any, user: Any, **kwargs: Any) -> None:
    """A participation ended (recusal, removal): that person's open room connections re-check now."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(f"user.{user.pk}", {"type": "access.withdrawn", "case": case.pk})


permissions.access_withdrawn.connect(close_withdrawn, dispatch_uid="sessions.close_withdrawn")


@lru_cache(maxsize=1)
def _limiter() -> tuple[strategies.MovingWindowRateLimiter, RateLimitItemPerSecond]:
    # Shared by every server process with Redis; per process in the embedded default.
    limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(settings.REDIS_URL or "memory://"))
    return limiter, RateLimitItemPerSecond(settings.SESSION_MESSAGES_PER_10S, 10)


# The mediator keeps order during an open sitting (sessions/opening.py).
ORDER_FRAMES = ("mute", "unmute", "move")
NEGOTIATION_FRAMES = ("offer", "answer_offer", "withdraw_offer", "open_bidding", "bid", "cancel_bidding")


def _numbered(queryset: Any, number: Any, field: str, *, optional: bool = False) -> Any:
    """The case's offer or bidding round with this number, or an error naming ``field``."""
    if optional and number is None:
        return None
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise RoomError("invalid_number", _("%(field)s 必须是正整数。") % {"field": field}, field=field)
    found = queryset.filter(number=number).first()
    if found is None:
        raise RoomError("unknown_number", _("没有编号为 %(number)d 的记录。") % {"number": number}, field=field)
    return found


def _error(code: str, message: str, *, field: str | None = None, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field:
        frame["field"] = field
    frame.update(extra)
    return frame


class RoomConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    room: Room
    user: User
    last_sent: int | None = None  # None until the client's hello has been answered
    last_typing: float = 0.0

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first hops to the database thread to close stale connections,
        for every frame and every group event: each broadcast, once per member. Every database
        call here goes through ``database_sync_to_async``, which closes them around the call
        anyway, so that hop is skipped (it cost a thread round trip per delivery)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        self.user = self.scope["user"]
        try:
            self.room = await database_sync_to_async(services.room_for_user)(
                self.user, self.scope["url_route"]["kwargs"]["room_pk"]
            )
        except RoomError:
            await self.close(code=REFUSED)  # before accept: the handshake is refused
            return
        self.group = group_name(self.room.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(f"user.{self.user.pk}", self.channel_name)
        await database_sync_to_async(services.join)(self.room, user=self.user, channel_name=self.channel_name)
        await database_sync_to_async(opening.connection_opened)(self.room, user=self.user)
        await self.accept()
        await self._presence_changed()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "group"):
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.channel_layer.group_discard(f"user.{self.user.pk}", self.channel_name)
        await database_sync_to_async(services.leave)(self.channel_name)
        await database_sync_to_async(opening.connection_closed)(self.room, user=self.user)
        await self._presence_changed()

    # --- client frames ---------------------------------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json(_error("malformed", _("消息帧必须是带有 type 字段的 JSON 对象。"), field="type"))
            return
        handler = {
            "hello": self._hello,
            "send": self._send,
            "typing": self._typing,
            "release": self._release,
            "ping": self._ping,
            **{name: self._keep_order for name in ORDER_FRAMES},
            **{name: self._negotiate for name in NEGOTIATION_FRAMES},
        }.get(content["type"])
        if handler is None:
            await self.send_json(
                _error(
                    "unknown_type", _("不支持的消息帧类型：%(type)s。") % {"type": content["type"][:40]}, field="type"
                )
            )
            return
        await handler(content)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.send_json(_error("malformed", _("消息帧必须是 JSON 文本。")))
            return
        await super().receive(text_data=text_data, **kwargs)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # answered with a "malformed" error frame by receive_json

    async def _hello(self, content: dict[str, Any]) -> None:
        after = content.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send_json(_error("invalid_after", _("after 必须是不小于 0 的整数。"), field="after"))
            return
        self.last_sent = after
        await self._catch_up()
        people = await database_sync_to_async(self._people)()
        await self.send_json(
            {
                "type": "ready",
                "protocol": PROTOCOL_VERSION,
                "room": self.room.pk,
                "last_seq": self.last_sent,
                "present": people,
            }
        )

    async def _send(self, content: dict[str, Any]) -> None:
        limiter, limit = _limiter()
        if not limiter.hit(limit, "room", str(self.room.pk), str(self.user.pk)):
            await self.send_json(
                _error(
                    "rate_limited", _("发言过于频繁，请稍后再发。"), retry_after=10, client_id=content.get("client_id")
                )
            )
            return
        try:
            frame = await database_sync_to_async(self._post)(content)
        except RoomError as error:
            await self.send_json(
                _error(error.code, error.message, field=error.field, client_id=content.get("client_id"), **error.extra)
            )
            if error.code == "forbidden":
                await self.close(code=REFUSED)
            return
        # Committed: the broadcast goes out from here rather than from the database thread.
        await self.channel_layer.group_send(self.group, {"type": "room.message", "frame": frame})
        await self.send_json({"type": "ack", "client_id": frame["client_id"], "seq": frame["seq"]})

    def _post(self, content: dict[str, Any]) -> dict[str, Any]:
        message = services.post_message(
            self.room,
            author=self.user,
            body=content.get("body"),
            client_id=content.get("client_id", ""),
            announce=False,
        )
        return message_frame(message)

    async def _release(self, content: dict[str, Any]) -> None:
        """在线调解规则 Art 18: the author releases a caucus statement to the joint room."""
        seq = content.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            await self.send_json(_error("invalid_seq", _("seq 必须是正整数。"), field="seq"))
            return
        try:
            copy = await database_sync_to_async(self._release_seq)(seq)
        except RoomError as error:
            await self.send_json(_error(error.code, error.message, field=error.field, seq=seq))
            return
        await self.send_json({"type": "released", "seq": seq, "joint_room": copy.room_id, "joint_seq": copy.seq})

    def _release_seq(self, seq: int) -> Message:
        message = self.room.messages.filter(seq=seq).first()
        if message is None:
            raise RoomError("unknown_seq", _("该调解室没有这条消息。"), field="seq")
        return services.release(message, user=self.user, ip=self.scope.get("client", [None])[0])

    async def _negotiate(self, content: dict[str, Any]) -> None:
        """Offers and blind bidding, in the joint room only; the outcome shows as a system message."""
        if self.room.is_caucus:
            await self.send_json(_error("joint_room_only", _("方案和双盲报价只能在联合调解室进行。"), field="type"))
            return
        try:
            result = await database_sync_to_async(self._negotiate_sync)(content)
        except RoomError as error:
            await self.send_json(_error(error.code, error.message, field=error.field))
            return
        await self.send_json({"type": "done", "action": content["type"], **result})

    def _negotiate_sync(self, content: dict[str, Any]) -> dict[str, Any]:
        case, user = self.room.case, User.objects.get(pk=self.user.pk)
        ip = self.scope.get("client", [None])[0]
        kind = content["type"]
        if kind == "offer":
            counter = _numbered(Offer.objects.filter(case=case), content.get("counter_to"), "counter_to", optional=True)
            offer = negotiation.propose(case, user=user, terms=content.get("terms"), counter_to=counter, ip=ip)
            return {"offer": offer.number, "state": offer.state}
        if kind in ("answer_offer", "withdraw_offer"):
            offer = _numbered(Offer.objects.filter(case=case), content.get("offer"), "offer")
            if kind == "withdraw_offer":
                offer = negotiation.withdraw(offer, user=user, ip=ip)
            else:
                accept = content.get("accept")
                if not isinstance(accept, bool):
                    raise RoomError("invalid_accept", _("accept 必须是 true 或 false。"), field="accept")
                offer = negotiation.answer(offer, user=user, accept=accept, ip=ip)
            return {"offer": offer.number, "state": offer.state}
        if kind == "open_bidding":
            bid_round = negotiation.open_round(case, mediator=user, agreed_gap=content.get("agreed_gap", "0"), ip=ip)
        else:
            rounds = BlindBidRound.objects.filter(case=case)
            bid_round = _numbered(rounds, content.get("round"), "round")
            if kind == "cancel_bidding":
                bid_round = negotiation.cancel_round(bid_round, mediator=user, ip=ip)
            else:
                bid_round = negotiation.submit_bid(bid_round, user=user, figure=content.get("figure"), ip=ip)
        # The figure is never echoed back, not even to its own side.
        return {"round": bid_round.number, "state": bid_round.state}

    # --- the mediator's controls during a sitting ------------------------------------------------

    async def _keep_order(self, content: dict[str, Any]) -> None:
        """``mute``/``unmute`` {user} and ``move`` {user, to}: mediators only; answered with ``done``."""
        try:
            await database_sync_to_async(self._keep_order_sync)(content)
        except RoomError as error:
            await self.send_json(_error(error.code, error.message, field=error.field))
            return
        await self.send_json({"type": "done", "action": content["type"], "user": content.get("user")})

    def _keep_order_sync(self, content: dict[str, Any]) -> None:
        case, user = self.room.case, User.objects.get(pk=self.user.pk)  # fresh: permissions are cached
        ip = self.scope.get("client", [None])[0]
        if content["type"] == "move":
            opening.move(case, mediator=user, target=content.get("user"), to=content.get("to"), ip=ip)
        else:
            muted = content["type"] == "mute"
            opening.set_muted(case, mediator=user, target=content.get("user"), muted=muted, ip=ip)

    async def sitting_muted(self, event: dict[str, Any]) -> None:
        if event["case"] == self.room.case_id:
            message = _("您已被调解员禁言，可以阅读但暂时不能发言。")
            await self.send_json({"type": "muted", "session": event["session"], "message": message})

    async def sitting_unmuted(self, event: dict[str, Any]) -> None:
        if event["case"] == self.room.case_id:
            message = _("调解员已解除您的禁言。")
            await self.send_json({"type": "unmuted", "session": event["session"], "message": message})

    async def sitting_moved(self, event: dict[str, Any]) -> None:
        if event["case"] == self.room.case_id:
            message = (
                _("调解员已请您进入单方会谈室。") if event["to"] == "caucus" else _("调解员已请您回到联合调解室。")
            )
            frame = {"type": "moved", "session": event["session"], "to": event["to"], "to_room": event["to_room"]}
            await self.send_json({**frame, "message": message})

    async def sitting_closed(self, event: dict[str, Any]) -> None:
        message = _("第 %(number)d 场调解已结束，调解室恢复留言。") % {"number": event["number"]}
        await self.send_json(
            {"type": "session_closed", "session": event["session"], "number": event["number"], "message": message}
        )

    async def _typing(self, content: dict[str, Any]) -> None:
        now = timezone.now().timestamp()
        if now - self.last_typing < TYPING_EVERY_SECONDS:
            return
        self.last_typing = now
        await self.channel_layer.group_send(
            self.group,
            {"type": "room.typing", "user": self.user.pk, "name": self.user.display_name, "sender": self.channel_name},
        )

    async def _ping(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(services.touch)(self.channel_name)
        await self.send_json({"type": "pong"})

    # --- group events ----------------------------------------------------------------------------

    async def room_message(self, event: dict[str, Any]) -> None:
        if self.last_sent is None:
            return  # the hello's replay will include it
        frame = event["frame"]
        seq = frame["seq"]
        if seq <= self.last_sent:
            return
        if seq > self.last_sent + 1:
            await self._catch_up(upto=seq - 1)  # a broadcast was lost: read the gap
        if seq == self.last_sent + 1:
            await self.send_json(frame)
            self.last_sent = seq

    async def room_typing(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name and self.last_sent is not None:
            await self.send_json({"type": "typing", "user": event["user"], "name": event["name"]})

    async def room_presence(self, event: dict[str, Any]) -> None:
        if self.last_sent is not None:
            await self.send_json({"type": "presence", "present": event["present"]})

    async def access_withdrawn(self, event: dict[str, Any]) -> None:
        """The person's access to a case changed: leave at once if this room is no longer theirs."""
        if event.get("case") not in (None, self.room.case_id):
            return
        allowed = await database_sync_to_async(self._still_allowed)()
        if not allowed:
            await self.send_json(_error("forbidden", _("您已无权进入该调解室。")))
            await self.close(code=REFUSED)

    # --- helpers ---------------------------------------------------------------------------------

    async def _catch_up(self, upto: int | None = None) -> None:
        """Send, in order, every stored message after ``last_sent`` (up to ``upto``)."""
        while True:
            frames = await database_sync_to_async(self._frames_after)(self.last_sent or 0, upto)
            for frame in frames:
                await self.send_json(frame)
                self.last_sent = frame["seq"]
            if len(frames) < REPLAY_BATCH:
                return

    def _frames_after(self, after: int, upto: int | None) -> list[dict[str, Any]]:
        messages = services.messages_after(self.room, after, limit=REPLAY_BATCH)
        return [message_frame(m) for m in messages if upto is None or m.seq <= upto]

    def _people(self) -> list[dict[str, Any]]:
        return [{"id": user.pk, "name": user.display_name} for user in services.present(self.room)]

    def _still_allowed(self) -> bool:
        user = User.objects.get(pk=self.user.pk)  # fresh: permissions are cached per instance
        return services.may_enter(user, Room.objects.select_related("case").get(pk=self.room.pk))

    async def _presence_changed(self) -> None:
        people = await database_sync_to_async(self._people)()
        await self.channel_layer.group_send(self.group, {"type": "room.presence", "present": people})
