"""Files in rooms: the evidence checks, gap-free numbering, the live frame, and caucus protection."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from judicial_link import package
from mediation.models import Case, LedgerEntry, User
from sessions import attachments, consumers, services
from sessions.models import Attachment, Attendance, MediationSession, Message, Room
from sessions.services import RoomError
from tests.factories import sample_pdf_bytes
from tests.test_session_consumer import connection, rooms_of

PDF = sample_pdf_bytes("room attachment")


def pdf(name: str = "还款计划.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def rooms(case: Case) -> dict[str, Room]:
    return rooms_of(case)


@pytest.mark.django_db
def test_a_file_becomes_a_numbered_message_with_its_hash_and_a_ledger_entry(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    joint = rooms(mediating_case)["joint"]
    services.post_message(joint, author=mediator, body="请上传还款计划。")

    message = attachments.post_file(joint, author=consumer, upload=pdf())

    assert (message.seq, message.kind, message.body) == (2, Message.Kind.FILE, "还款计划.pdf")
    stored = message.attachment
    assert stored.content_type == "application/pdf" and stored.size == len(PDF)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.file.name == f"sessions/{mediating_case.pk}/{stored.sha256[:2]}/{stored.sha256}"
    with stored.file.open("rb") as handle:
        assert handle.read() == PDF
    entry = LedgerEntry.objects.get(case=mediating_case, action="sessions.attachment.uploaded")
    assert entry.data["sha256"] == stored.sha256 and entry.data["seq"] == 2
    frame = consumers.message_frame(message)
    assert frame["attachment"] == {
        "name": "还款计划.pdf",
        "size": len(PDF),
        "content_type": "application/pdf",
        "url": f"/rooms/{joint.pk}/attachments/{stored.pk}/",
        "sha256": stored.sha256,
    }
    assert consumers.message_frame(Message.objects.get(room=joint, seq=1))["attachment"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("upload", "code", "words"),
    [
        (None, "no_file", "请选择要上传的文件"),
        (SimpleUploadedFile("空.pdf", b"", content_type="application/pdf"), "empty_file", "文件为空"),
        (
            SimpleUploadedFile("page.pdf", b"<html><script>alert(1)</script></html>", content_type="application/pdf"),
            "rejected_file",
            "不支持该文件类型（检测为 text/html）",
        ),
        (pdf("big.pdf", PDF + b"%" * 2048), "rejected_file", "文件过大"),
    ],
)
def test_a_refused_file_changes_nothing(
    mediating_case: Case, consumer: User, settings: Any, upload: Any, code: str, words: str
) -> None:
    settings.EVIDENCE_MAX_BYTES = len(PDF) + 1024
    joint = rooms(mediating_case)["joint"]

    with pytest.raises(RoomError) as refused:
        attachments.post_file(joint, author=consumer, upload=upload)

    assert (refused.value.code, refused.value.field) == (code, "file")
    assert words in refused.value.message
    joint.refresh_from_db()
    assert joint.last_seq == 0 and not Attachment.objects.exists()
    assert not LedgerEntry.objects.filter(action="sessions.attachment.uploaded").exists()


@pytest.mark.django_db
def test_a_person_who_may_not_write_in_the_room_is_refused(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, tmp_path: Any
) -> None:
    caucus = rooms(mediating_case)[f"consumer:{consumer.pk}"]
    with pytest.raises(RoomError) as refused:
        attachments.post_file(caucus, author=bank_agent, upload=pdf())
    assert refused.value.code == "forbidden"

    # A participant the mediator muted in the open sitting may read but not upload.
    sitting = MediationSession.objects.create(
        case=mediating_case,
        number=1,
        state=MediationSession.State.OPEN,
        scheduled_start=timezone.now(),
        scheduled_end=timezone.now(),
        created_by=mediator,
    )
    Attendance.objects.create(
        session=sitting,
        user=consumer,
        role="consumer",
        identity_verified_at=timezone.now(),
        warning_acknowledged_at=timezone.now(),
        muted_at=timezone.now(),
    )
    with pytest.raises(RoomError) as muted:
        attachments.post_file(caucus, author=consumer, upload=pdf())
    assert muted.value.code == "muted"

    assert not Attachment.objects.exists() and not Message.objects.exists()
    assert not any(path.is_file() for path in (tmp_path / "uploads").rglob("*"))


@pytest.mark.django_db
def test_a_caucus_file_is_reachable_only_from_its_caucus_until_released(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    by_side = rooms(mediating_case)
    caucus, joint = by_side[f"consumer:{consumer.pk}"], by_side["joint"]
    message = attachments.post_file(caucus, author=consumer, upload=pdf("底线.pdf"))
    original = message.attachment

    # 在线调解规则 Art 18: the other side cannot reach it, neither through its room nor another.
    for room in (caucus, joint, by_side["institution"]):
        with pytest.raises(RoomError):
            attachments.attachment_for_user(bank_agent, room.pk, original.pk)
    with pytest.raises(RoomError):
        attachments.attachment_for_user(consumer, joint.pk, original.pk)
    assert attachments.attachment_for_user(mediator, caucus.pk, original.pk) == original

    copy = services.release(message, user=consumer)

    assert (copy.room, copy.kind, copy.body) == (joint, Message.Kind.FILE, "底线.pdf")
    shared = copy.attachment
    assert shared.room == joint and shared.released_from == original
    assert shared.file.name == original.file.name and shared.sha256 == original.sha256
    assert attachments.attachment_for_user(bank_agent, joint.pk, shared.pk) == shared
    with pytest.raises(RoomError):  # the caucus row itself stays out of reach
        attachments.attachment_for_user(bank_agent, caucus.pk, original.pk)
    # Releasing twice gives the same copy.
    assert services.release(message, user=consumer) == copy
    assert Attachment.objects.count() == 2


@pytest.mark.django_db
def test_only_the_author_releases_a_caucus_file(mediating_case: Case, consumer: User, mediator: User) -> None:
    caucus = rooms(mediating_case)[f"consumer:{consumer.pk}"]
    message = attachments.post_file(caucus, author=consumer, upload=pdf())

    with pytest.raises(RoomError) as refused:
        services.release(message, user=mediator)

    assert refused.value.code == "not_author"
    assert Attachment.objects.count() == 1


def test_packages_read_only_whitelisted_sources_so_room_files_never_reach_a_court() -> None:
    for purpose, sources in package.SOURCES.items():
        assert all(source.__module__ == "judicial_link.package" for source in sources), purpose
    with open(package.__file__, encoding="utf-8") as handle:
        text = handle.read()
    # From the sessions app a package reads only the confirmed mediation records, never the rooms.
    from_sessions = [line for line in text.splitlines() if line.startswith(("import", "from")) and "sessions" in line]
    assert from_sessions == ["from sessions.models import MediationRecord"], (
        "judicial_link.package must not import the rooms"
    )


@pytest.mark.django_db
def test_a_caucus_file_is_not_in_a_confirmation_package(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, case_manager: User, capture: Any
) -> None:
    from tests.judicial_helpers import effective_case

    by_side = rooms(mediating_case)
    secret = sample_pdf_bytes("caucus only: lowest acceptable figure")
    attachments.post_file(by_side[f"consumer:{consumer.pk}"], author=consumer, upload=pdf("底线.pdf", secret))
    attachments.post_file(by_side["institution"], author=bank_agent, upload=pdf("授权.pdf", secret + b"\n"))
    people = {"consumer": consumer, "bank_agent": bank_agent, "mediator": mediator, "case_manager": case_manager}
    case = effective_case(mediating_case, people, capture)

    files = package.package_files(case)

    hashes = {a.sha256 for a in Attachment.objects.all()}
    assert len(hashes) == 2
    for item in files:
        assert hashlib.sha256(item.content).hexdigest() not in hashes
        for digest in hashes:
            assert digest.encode() not in item.content
        assert b"caucus only" not in item.content


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Any:
    return django_capture_on_commit_callbacks


# --- over a real websocket ------------------------------------------------------------------------


@pytest.fixture
def fresh_layer() -> Iterator[None]:
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()
    yield
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()


@pytest.mark.django_db(transaction=True)
async def test_an_uploaded_file_is_broadcast_in_order_and_replayed(
    fresh_layer: None, mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    by_side = await sync_to_async(rooms_of)(mediating_case)
    joint = by_side["joint"]
    watcher = await connection(bank_agent, joint)
    assert (await watcher.open())[0]
    assert await watcher.hello() == []
    await sync_to_async(services.post_message)(joint, author=mediator, body="请上传。")

    await sync_to_async(attachments.post_file)(joint, author=consumer, upload=pdf())

    frames = await watcher.messages(2)
    assert [(f["seq"], f["kind"]) for f in frames] == [(1, "text"), (2, "file")]
    assert frames[1]["attachment"]["name"] == "还款计划.pdf"
    assert frames[1]["attachment"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert frames[1]["author"]["id"] == consumer.pk
    await watcher.close()

    # A client reconnecting after number 1 gets the file message replayed with its attachment.
    again = await connection(mediator, joint)
    assert (await again.open())[0]
    replayed = await again.hello(after=1)
    assert [f["seq"] for f in replayed] == [2] and replayed[0]["attachment"]["size"] == len(PDF)
    await again.close()


@pytest.mark.django_db(transaction=True)
async def test_a_caucus_file_never_reaches_the_other_sides_socket(
    fresh_layer: None, mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    by_side = await sync_to_async(rooms_of)(mediating_case)
    other_side = await connection(bank_agent, by_side["joint"])
    assert (await other_side.open())[0]
    await other_side.hello()
    mediator_caucus = await connection(mediator, by_side[f"consumer:{consumer.pk}"])
    assert (await mediator_caucus.open())[0]
    await mediator_caucus.hello()

    await sync_to_async(attachments.post_file)(by_side[f"consumer:{consumer.pk}"], author=consumer, upload=pdf())

    assert (await mediator_caucus.messages(1))[0]["kind"] == "file"
    assert await other_side.quiet()
    await other_side.close()
    await mediator_caucus.close()
