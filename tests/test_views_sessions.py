"""The rooms page: who sees which rooms; everyone else gets 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mediation.models import Case, User
from sessions import services

pytestmark = pytest.mark.django_db


def _page(user: User | None, case: Case, method: str = "get") -> tuple[int, str]:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = getattr(client, method)(reverse("sessions:rooms", kwargs={"case_pk": case.pk}))
    return response.status_code, response.content.decode()


def test_a_party_sees_the_joint_room_and_only_their_own_caucus(
    mediating_case: Case, consumer: User, bank_agent: User
) -> None:
    rooms = {room.side: room.pk for room in services.rooms_for_case(mediating_case)}

    status, body = _page(consumer, mediating_case)
    assert status == 200
    assert f'id="panel-{rooms[""]}"' in body and f'id="panel-{rooms[f"consumer:{consumer.pk}"]}"' in body
    assert f'id="panel-{rooms["institution"]}"' not in body
    assert "单方会谈室（仅本方与调解员可见）" in body

    status, body = _page(bank_agent, mediating_case)
    assert status == 200
    assert f'id="panel-{rooms["institution"]}"' in body
    assert f'id="panel-{rooms[f"consumer:{consumer.pk}"]}"' not in body


def test_the_mediator_sees_every_room_named_by_its_side(mediating_case: Case, consumer: User, mediator: User) -> None:
    status, body = _page(mediator, mediating_case)

    assert status == 200
    assert body.count('role="tabpanel"') == 3
    assert "单方会谈室 · 张三" in body and f"单方会谈室 · {mediating_case.institution.name}" in body


@pytest.mark.parametrize("method", ["get", "post"])
def test_people_in_no_room_get_404(
    mediating_case: Case, outsider: User, case_manager: User, other_bank_agent: User, method: str
) -> None:
    for person in (outsider, case_manager, other_bank_agent):
        assert _page(person, mediating_case, method)[0] == 404


def test_a_party_posting_gets_405(mediating_case: Case, consumer: User) -> None:
    assert _page(consumer, mediating_case, "post")[0] == 405


def test_anonymous_visitors_are_sent_to_log_in(mediating_case: Case) -> None:
    client = Client()
    response = client.get(reverse("sessions:rooms", kwargs={"case_pk": mediating_case.pk}))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_case_page_links_to_the_rooms_for_people_in_a_room(
    mediating_case: Case, consumer: User, case_manager: User
) -> None:
    link = reverse("sessions:rooms", kwargs={"case_pk": mediating_case.pk})
    for person, shown in ((consumer, True), (case_manager, False)):
        client = Client()
        client.force_login(person)
        body = client.get(reverse("case_detail", kwargs={"pk": mediating_case.pk})).content.decode()
        assert (link in body) is shown
