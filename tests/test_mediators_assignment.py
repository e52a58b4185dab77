"""The case manager's assignment page: recommendations, lead assignment, co-mediation, who is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from mediation import permissions, services
from mediation.models import Case, CaseParticipant, CaseState, Organisation, User
from mediators.models import Expertise, Language, MediatorLanguage, MediatorProfile
from tests import factories
from tests.test_mediators_recommendation import make_profile

OUTSIDERS = ["other_case_manager", "consumer", "bank_agent", "mediator", "court_clerk", "regulator", "outsider"]


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def mediator_profile(mediator: User) -> MediatorProfile:
    """The persona's roster profile, with the expertise and dialect of the case."""
    profile = MediatorProfile.objects.get(user=mediator)
    Expertise.objects.create(profile=profile, product_category="credit_card", issue_type="interest_fees")
    MediatorLanguage.objects.create(profile=profile, language=Language.CANTONESE)
    return profile


@pytest.fixture
def other_mediator_profile(other_mediator: User) -> MediatorProfile:
    """The persona's roster profile, far from the case's region."""
    profile = MediatorProfile.objects.get(user=other_mediator)
    MediatorProfile.objects.filter(pk=profile.pk).update(region="浙江省杭州市")
    profile.refresh_from_db()
    return profile


@pytest.fixture
def choosing_case(transferred_case: Case, consumer: User, bank_agent: User) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.CHOOSING_MEDIATOR
    return transferred_case


@pytest.fixture
def mediating_with_lead(
    choosing_case: Case, case_manager: User, mediator: User, mediator_profile: MediatorProfile
) -> Case:
    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)
    factories.accept_assignment(choosing_case, mediator=mediator)
    choosing_case.refresh_from_db()
    return choosing_case


def url(case: Case) -> str:
    return reverse("mediators:case_assign", kwargs={"pk": case.pk})


def test_case_manager_sees_the_ranked_list_with_reasons(
    client: Client,
    case_manager: User,
    choosing_case: Case,
    mediator_profile: MediatorProfile,
    other_mediator_profile: MediatorProfile,
) -> None:
    client.force_login(case_manager)

    response = client.get(url(choosing_case))

    assert response.status_code == 200
    recommended = [item.profile for item in response.context["recommendations"]]
    assert recommended == [mediator_profile, other_mediator_profile]
    page = response.content.decode()
    assert page.index(mediator_profile.display_name) < page.index(other_mediator_profile.display_name)
    assert "擅长本案问题类型：利息、违约金及费用（40 分）" in page
    assert "会说本案地区方言：粤语" in page
    assert "指定为主调解员" in page


def test_case_manager_assigns_the_lead_from_the_list(
    client: Client, case_manager: User, choosing_case: Case, mediator: User, mediator_profile: MediatorProfile
) -> None:
    client.force_login(case_manager)

    response = client.post(url(choosing_case), {"mediator": mediator_profile.pk})

    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", kwargs={"pk": choosing_case.pk})
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    lead = choosing_case.participants.get(user=mediator, removed_at__isnull=True)
    assert lead.capacity == CaseParticipant.Capacity.LEAD_MEDIATOR
    assert mediator.has_perm(permissions.MEDIATE, choosing_case)
    assert any("已指定调解员" in m for m in messages_of(response))


def test_co_mediator_is_added_and_gains_the_mediate_permission(
    client: Client,
    case_manager: User,
    mediating_with_lead: Case,
    other_mediator: User,
    other_mediator_profile: MediatorProfile,
) -> None:
    assert not other_mediator.has_perm(permissions.MEDIATE, mediating_with_lead)
    client.force_login(case_manager)

    page = client.get(url(mediating_with_lead))
    assert "增加为共同调解员" in page.content.decode()
    # The lead already on the case is listed as such and not recommended again.
    assert [item.profile for item in page.context["recommendations"]] == [other_mediator_profile]

    response = client.post(url(mediating_with_lead), {"mediator": other_mediator_profile.pk})

    assert response.status_code == 302
    participant = mediating_with_lead.participants.get(user=other_mediator, removed_at__isnull=True)
    assert participant.capacity == CaseParticipant.Capacity.MEDIATOR
    fresh = User.objects.get(pk=other_mediator.pk)  # a new object: no cached permissions
    assert fresh.has_perm(permissions.MEDIATE, mediating_with_lead)
    mediating_with_lead.refresh_from_db()
    assert mediating_with_lead.state == CaseState.MEDIATING
    assert any("共同调解员" in m for m in messages_of(response))


def test_refusal_by_the_services_is_shown_as_a_message_and_nothing_changes(
    client: Client, case_manager: User, mediating_with_lead: Case, mediator_profile: MediatorProfile
) -> None:
    client.force_login(case_manager)

    # The lead cannot be added a second time (add_co_mediator raises CaseError).
    response = client.post(url(mediating_with_lead), {"mediator": mediator_profile.pk})

    assert response.status_code == 302
    assert response["Location"] == url(mediating_with_lead)
    assert "该调解员已在本案中。" in messages_of(response)
    assert mediating_with_lead.participants.filter(capacity=CaseParticipant.Capacity.MEDIATOR).count() == 0


def test_mediator_of_another_centre_is_a_field_error(
    client: Client, case_manager: User, choosing_case: Case, other_centre: Organisation
) -> None:
    foreign = make_profile(other_centre, "foreign_pool_mediator")
    client.force_login(case_manager)

    response = client.post(url(choosing_case), {"mediator": foreign.pk})

    assert response.status_code == 400
    assert response.context["form"].errors["mediator"] == ["该调解员不在本中心可指定的名册中。"]
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR


def test_suspended_mediator_is_a_field_error(
    client: Client, case_manager: User, choosing_case: Case, mediator_profile: MediatorProfile
) -> None:
    MediatorProfile.objects.filter(pk=mediator_profile.pk).update(status=MediatorProfile.Status.SUSPENDED)
    client.force_login(case_manager)

    response = client.post(url(choosing_case), {"mediator": mediator_profile.pk})

    assert response.status_code == 400
    assert "mediator" in response.context["form"].errors
    assert not choosing_case.participants.filter(user=mediator_profile.user).exists()


def test_page_in_a_state_without_assignment_offers_no_action(
    client: Client, case_manager: User, transferred_case: Case, mediator_profile: MediatorProfile
) -> None:
    client.force_login(case_manager)

    page = client.get(url(transferred_case))
    assert page.status_code == 200
    assert page.context["mode"] is None
    assert "案件当前状态不能指定或增加调解员。" in page.content.decode()

    response = client.post(url(transferred_case), {"mediator": mediator_profile.pk})
    assert response.status_code == 302
    assert messages_of(response) == ["只有已指定主调解员的案件可以增加调解员。"]
    assert not transferred_case.participants.filter(user=mediator_profile.user).exists()


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_get_404_on_get_and_post(
    client: Client, request: pytest.FixtureRequest, persona: str, choosing_case: Case, mediator_profile: MediatorProfile
) -> None:
    client.force_login(request.getfixturevalue(persona))

    assert client.get(url(choosing_case)).status_code == 404
    assert client.post(url(choosing_case), {"mediator": mediator_profile.pk}).status_code == 404
    assert client.put(url(choosing_case)).status_code == 404
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR


def test_assigned_mediator_cannot_open_the_assignment_page(
    client: Client, mediating_with_lead: Case, mediator: User
) -> None:
    client.force_login(mediator)

    assert client.get(url(mediating_with_lead)).status_code == 404


def test_anonymous_visitor_is_sent_to_login(client: Client, choosing_case: Case) -> None:
    response = client.get(url(choosing_case))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_unknown_case_is_404(client: Client, case_manager: User) -> None:
    client.force_login(case_manager)

    assert client.get(reverse("mediators:case_assign", kwargs={"pk": 999999})).status_code == 404
