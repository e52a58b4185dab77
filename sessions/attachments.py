"""Files in rooms: checked like evidence, numbered like any other message.

The upload goes through ``mediation.evidence_checks.sniff_upload`` (size, content sniffed by
libmagic, SHA-256 and SM3), is stored under the media root by its hash, and becomes a ``file``
message in the room's gap-free numbering, broadcast after commit like a text message.

在线调解规则 Art 18: a file posted in a caucus belongs to that caucus. It is downloadable only by
the people who may enter that caucus, and reaches the joint room only when its author releases
the message (``services.release`` then copies the reference, not the bytes).
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from mediation import ledger
from mediation.evidence_checks import UploadRejected, sniff_upload
from mediation.models import User
from sessions import services
from sessions.models import Attachment, Message, Room
from sessions.services import RoomError


def post_file(room: Room, *, author: User, upload: UploadedFile | None, ip: str | None = None) -> Message:
    """Check, store and announce one file; nothing is kept if any step refuses."""
    if upload is None:
        raise RoomError("no_file", _("请选择要上传的文件。"), field="file")
    try:
        checked = sniff_upload(upload)
    except UploadRejected as error:
        code = "empty_file" if not upload.size else "rejected_file"
        raise RoomError(code, str(error), field="file") from None
    attachment = Attachment(
        uploaded_by=author,
        original_name=checked.safe_name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        sm3=checked.sm3,
    )
    try:
        with transaction.atomic():
            room = Room.objects.select_related("case").get(pk=room.pk)
            sitting = services.require_may_write(room, author)
            message = services._append(
                room, author=author, body=checked.safe_name, kind=Message.Kind.FILE, sitting=sitting
            )
            attachment.room, attachment.message = room, message
            attachment.file.save(checked.sha256, upload, save=False)
            attachment.save()
            data: dict[str, Any] = {"room": room.pk, "seq": message.seq, "attachment": attachment.pk}
            if not room.is_caucus:
                # The ledger goes into court packages: a caucus file's hash would let anyone
                # confirm a guess of its content (Art 18), so only the joint room's are listed.
                data |= {
                    "type": attachment.content_type,
                    "size": attachment.size,
                    "sha256": attachment.sha256,
                    "sm3": attachment.sm3,
                }
            ledger.record("sessions.attachment.uploaded", actor=author, case=room.case, ip=ip, data=data)
    except BaseException:
        # The rolled-back row no longer points at the stored file; do not leave it behind
        # (unless another row, e.g. an earlier upload of the same bytes, still uses it).
        name = attachment.file.name
        if name and not Attachment.objects.filter(file=name).exists():
            attachment.file.storage.delete(name)
        raise
    return message


def copy_to(original: Message, copy: Message) -> Attachment:
    """A released file message: the joint-room copy points at the same stored file."""
    source = Attachment.objects.get(message=original)
    return Attachment.objects.create(
        room=copy.room,
        message=copy,
        uploaded_by=source.uploaded_by,
        file=source.file.name,
        original_name=source.original_name,
        content_type=source.content_type,
        size=source.size,
        sha256=source.sha256,
        sm3=source.sm3,
        released_from=source,
    )


def attachment_for_user(user: User, room_pk: int | str, pk: int | str) -> Attachment:
    """The file, if ``user`` may enter the room it was posted in; ``RoomError("not_found")`` otherwise."""
    room = services.room_for_user(user, room_pk)
    found = Attachment.objects.filter(room=room, pk=pk).select_related("room__case").first()
    if found is None:
        raise RoomError("not_found", _("找不到该文件。"))
    return found
