"""The pool's section on the case page shows each reader what they can do about the mediator now."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mediation import services
from mediation.models import Case, User


def _page(client: Client, user: User, case: Case) -> str:
    client.force_login(user)
    response = client.get(reverse("case_detail", kwargs={"pk": case.pk}))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def choosing_case(transferred_case: Case, consumer: User, bank_agent: User) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    return services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)


def test_parties_are_offered_the_roster_choice_and_staff_the_recommendations(
    client: Client, choosing_case: Case, consumer: User, bank_agent: User, case_manager: User
) -> None:
    choose = reverse("mediators:choose_mediator", kwargs={"pk": choosing_case.pk})
    assign = reverse("mediators:case_assign", kwargs={"pk": choosing_case.pk})
    assert choose in _page(client, consumer, choosing_case)
    assert choose in _page(client, bank_agent, choosing_case)
    staff_page = _page(client, case_manager, choosing_case)
    assert assign in staff_page and choose not in staff_page
    assert assign not in _page(client, consumer, choosing_case)


def test_the_assigned_mediator_is_sent_to_the_disclosure_before_accepting(
    client: Client, choosing_case: Case, case_manager: User, mediator: User, consumer: User
) -> None:
    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)
    disclosure = reverse("mediators:disclosure", kwargs={"pk": choosing_case.pk})
    assert disclosure in _page(client, mediator, choosing_case)
    assert disclosure not in _page(client, consumer, choosing_case)


def test_rating_is_offered_to_the_parties_once_the_case_has_ended(
    client: Client, mediating_case: Case, consumer: User, mediator: User
) -> None:
    rate = reverse("mediators:case_rate", kwargs={"pk": mediating_case.pk})
    assert rate not in _page(client, consumer, mediating_case)
    services.terminate_mediation(mediating_case, actor=mediator, reason="gap_too_large")
    assert rate in _page(client, consumer, mediating_case)
    assert rate not in _page(client, mediator, mediating_case)
