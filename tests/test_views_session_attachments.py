"""Room files and the negotiation state over HTTP: JSON answers, CSRF, and 404 for everyone outside."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mediation.models import Case, User
from sessions import attachments, services
from sessions.models import Attachment, Message, Room
from tests.factories import sample_pdf_bytes

pytestmark = pytest.mark.django_db

PDF = sample_pdf_bytes("view attachment")


def _rooms(case: Case) -> dict[str, Room]:
    return {room.side or "joint": room for room in services.rooms_for_case(case)}


def _client(user: User | None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def _upload(
    user: User | None, room: Room, content: bytes = PDF, name: str = "<img src=x onerror=alert(1)>收据.pdf"
) -> object:
    url = reverse("sessions:attachments", kwargs={"room_pk": room.pk})
    return _client(user).post(url, {"file": SimpleUploadedFile(name, content)})


def test_a_party_uploads_and_gets_the_message_number(mediating_case: Case, consumer: User) -> None:
    joint = _rooms(mediating_case)["joint"]

    response = _upload(consumer, joint)

    assert response.status_code == 201 and response.json() == {"seq": 1}  # type: ignore[attr-defined]
    message = Message.objects.get(room=joint, seq=1)
    assert message.kind == "file" and message.attachment.original_name == "<img src=x onerror=alert(1)>收据.pdf"


def test_a_refused_file_answers_with_the_code_and_the_field(mediating_case: Case, consumer: User) -> None:
    joint = _rooms(mediating_case)["joint"]

    response = _upload(consumer, joint, content=b"MZ\x90\x00" + bytes(200), name="setup.pdf")

    assert response.status_code == 400  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "rejected_file" and error["field"] == "file" and "不支持该文件类型" in error["message"]
    assert not Message.objects.exists()


def test_an_upload_without_a_csrf_token_is_refused(mediating_case: Case, consumer: User) -> None:
    joint = _rooms(mediating_case)["joint"]
    url = reverse("sessions:attachments", kwargs={"room_pk": joint.pk})

    response = _client(consumer, csrf=True).post(url, {"file": SimpleUploadedFile("a.pdf", PDF)})

    assert response.status_code == 403 and not Message.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_and_the_other_side_get_404_on_a_caucus(
    mediating_case: Case, consumer: User, bank_agent: User, outsider: User, case_manager: User, method: str
) -> None:
    rooms = _rooms(mediating_case)
    caucus = rooms[f"consumer:{consumer.pk}"]
    url = reverse("sessions:attachments", kwargs={"room_pk": caucus.pk})
    for person in (bank_agent, outsider, case_manager):
        response = getattr(_client(person), method)(url, {"file": SimpleUploadedFile("a.pdf", PDF)})
        assert response.status_code == 404
    assert _upload(outsider, rooms["joint"]).status_code == 404  # type: ignore[attr-defined]
    assert not Message.objects.exists()


def test_a_get_on_the_upload_url_is_405_for_people_in_the_room(mediating_case: Case, consumer: User) -> None:
    joint = _rooms(mediating_case)["joint"]
    response = _client(consumer).get(reverse("sessions:attachments", kwargs={"room_pk": joint.pk}))
    assert response.status_code == 405


def test_download_is_an_attachment_with_nosniff_for_people_in_the_room(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    joint = _rooms(mediating_case)["joint"]
    message = attachments.post_file(joint, author=consumer, upload=SimpleUploadedFile("收据.pdf", PDF))
    url = reverse("sessions:attachment", kwargs={"room_pk": joint.pk, "attachment_pk": message.attachment.pk})

    for person in (consumer, bank_agent, mediator):
        response = _client(person).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
    assert _client(consumer).post(url).status_code == 405


def test_a_caucus_file_downloads_for_its_side_and_the_mediator_only(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, outsider: User
) -> None:
    rooms = _rooms(mediating_case)
    caucus = rooms[f"consumer:{consumer.pk}"]
    message = attachments.post_file(caucus, author=consumer, upload=SimpleUploadedFile("底线.pdf", PDF))
    pk = message.attachment.pk

    def get(user: User, room: Room) -> int:
        url = reverse("sessions:attachment", kwargs={"room_pk": room.pk, "attachment_pk": pk})
        return int(_client(user).get(url).status_code)

    assert get(consumer, caucus) == 200 and get(mediator, caucus) == 200
    assert get(bank_agent, caucus) == 404
    assert get(bank_agent, rooms["joint"]) == 404  # not through a room they may enter either
    assert get(consumer, rooms["joint"]) == 404
    assert get(outsider, caucus) == 404
    assert Attachment.objects.count() == 1


# --- the negotiation state the rooms page reloads ---------------------------------------------------


def test_the_negotiation_state_lists_offers_and_a_round_without_any_figure(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    from sessions import negotiation

    negotiation.propose(mediating_case, user=consumer, terms={"amount": "800"})
    bid_round = negotiation.open_round(mediating_case, mediator=mediator, agreed_gap="0")
    negotiation.submit_bid(bid_round, user=consumer, figure="4321.09")
    url = reverse("sessions:negotiation", kwargs={"case_pk": mediating_case.pk})

    for person, side in ((consumer, "consumer"), (bank_agent, "institution"), (mediator, "mediator")):
        response = _client(person).get(url)
        assert response.status_code == 200
        state = response.json()
        assert state["side"] == side and state["mediating"] is True
        assert [(o["number"], o["state"], o["terms"]["amount"]) for o in state["offers"]] == [(1, "open", "800.00")]
        assert state["round"] == {
            "number": 1,
            "state": "open",
            "agreed_gap": "0.00",
            "settled_amount": None,
            "submitted": ["consumer"],
        }
        assert "4321" not in response.content.decode()
    page = _client(bank_agent).get(reverse("sessions:rooms", kwargs={"case_pk": mediating_case.pk}))
    assert 'id="negotiation-state"' in page.content.decode() and "4321" not in page.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_negotiation_state_is_404_outside_the_joint_room(
    mediating_case: Case, outsider: User, case_manager: User, other_bank_agent: User, consumer: User, method: str
) -> None:
    url = reverse("sessions:negotiation", kwargs={"case_pk": mediating_case.pk})
    for person in (outsider, case_manager, other_bank_agent):
        assert getattr(_client(person), method)(url).status_code == 404
    assert _client(None).get(url).status_code == 302
    assert _client(consumer).post(url).status_code == 405
