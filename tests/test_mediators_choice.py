"""The parties' joint choice of a mediator (在线调解规则 Art 10), and the clocks when they do not agree."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation import permissions, services
from mediation.clocks import WorkingCalendar
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    LedgerEntry,
    Notification,
    Organisation,
    User,
)
from mediation.services import CaseError
from mediation.sweep import sweep_deadlines
from mediators import neutrality
from mediators.models import DeclaredRelationship, MediatorProfile, PartyChoice
from tests import factories

DAY = datetime.timedelta(days=1)


@pytest.fixture
def choosing_case(transferred_case: Case, consumer: User, bank_agent: User) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.CHOOSING_MEDIATOR
    return transferred_case


def profile_of(user: User) -> MediatorProfile:
    return MediatorProfile.objects.get(user=user)


def choose_url(case: Case) -> str:
    return reverse("mediators:choose_mediator", kwargs={"pk": case.pk})


def pick(client: Client, party: User, case: Case, mediator: User) -> Any:
    client.force_login(party)
    return client.post(choose_url(case), {"mediator": profile_of(mediator).pk})


def lead_of(case: Case) -> User | None:
    lead = case.participants.filter(capacity=CaseParticipant.Capacity.LEAD_MEDIATOR, removed_at__isnull=True).first()
    return lead.user if lead else None


def test_the_same_pick_by_both_parties_assigns_the_mediator(
    client: Client,
    choosing_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    other_mediator: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    pick(client, consumer, choosing_case, mediator)
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR

    with django_capture_on_commit_callbacks(execute=True):
        response = pick(client, bank_agent, choosing_case, mediator)

    assert response.status_code == 302
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    assert lead_of(choosing_case) == mediator
    transition = choosing_case.transitions.get(to_state=CaseState.AWAITING_MEDIATOR)
    assert transition.actor == bank_agent and transition.data["chosen_by_parties"] is True
    assert choosing_case.deadlines.get(kind=ClockKind.PARTY_CHOICE).status == Deadline.Status.MET
    assert choosing_case.deadlines.get(kind=ClockKind.MEDIATOR_ACCEPTANCE).status == Deadline.Status.RUNNING
    assert User.objects.get(pk=mediator.pk).has_perm(permissions.MEDIATE, choosing_case)
    assert Notification.objects.filter(recipient=mediator, kind="mediation.case.mediator_assigned").exists()
    assert LedgerEntry.objects.filter(action="mediators.choice.made", case=choosing_case).count() == 2


def test_parties_who_disagree_can_change_their_pick_until_they_agree(
    client: Client,
    choosing_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    other_mediator: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    pick(client, consumer, choosing_case, mediator)
    with django_capture_on_commit_callbacks(execute=True):
        pick(client, bank_agent, choosing_case, other_mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR
    assert Notification.objects.filter(recipient=consumer, kind="mediators.choice.made").exists()
    client.force_login(consumer)
    page = client.get(choose_url(choosing_case))
    assert page.context["my_pick"] == profile_of(mediator)
    assert page.context["other_pick"] == profile_of(other_mediator)

    pick(client, consumer, choosing_case, other_mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    assert lead_of(choosing_case) == other_mediator
    assert PartyChoice.objects.filter(case=choosing_case, party=consumer).count() == 1


def test_the_institution_is_one_party_whichever_agent_picks(
    choosing_case: Case,
    consumer: User,
    bank_agent: User,
    bank_supervisor: User,
    mediator: User,
    other_mediator: User,
) -> None:
    neutrality.choose_mediator(choosing_case, party=bank_agent, mediator=mediator)
    neutrality.choose_mediator(choosing_case, party=bank_supervisor, mediator=other_mediator)

    assert list(PartyChoice.objects.filter(case=choosing_case).values_list("party", "mediator")) == [
        (bank_supervisor.pk, other_mediator.pk)
    ]
    neutrality.choose_mediator(choosing_case, party=consumer, mediator=mediator)
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR

    neutrality.choose_mediator(choosing_case, party=consumer, mediator=other_mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    assert lead_of(choosing_case) == other_mediator


def test_the_page_lists_eligible_mediators_with_public_roster_information_only(
    client: Client,
    choosing_case: Case,
    consumer: User,
    mediator: User,
    other_mediator: User,
    bank: Organisation,
) -> None:
    MediatorProfile.objects.filter(user=mediator).update(title="退休法官", biography="从事审判工作三十年。")
    DeclaredRelationship.objects.create(
        profile=profile_of(other_mediator), kind=DeclaredRelationship.Kind.PAST_EMPLOYMENT, organisation=bank
    )
    client.force_login(consumer)

    response = client.get(choose_url(choosing_case))

    assert response.status_code == 200
    assert [card[0] for card in response.context["cards"]] == [profile_of(mediator)]
    page = response.content.decode()
    assert "退休法官" in page and "从事审判工作三十年。" in page
    assert other_mediator.real_name not in page
    assert str(mediator.phone) not in page and mediator.email not in page
    assert "同时承办案件上限" not in page


def test_picking_an_excluded_mediator_is_a_field_error_and_nothing_is_stored(
    client: Client, choosing_case: Case, consumer: User, other_mediator: User, bank: Organisation
) -> None:
    DeclaredRelationship.objects.create(
        profile=profile_of(other_mediator), kind=DeclaredRelationship.Kind.FINANCIAL_INTEREST, organisation=bank
    )

    response = pick(client, consumer, choosing_case, other_mediator)

    assert response.status_code == 400
    assert response.context["form"].errors["mediator"] == ["请从本调解中心可选的调解员中选择。"]
    assert not PartyChoice.objects.exists()
    with pytest.raises(CaseError):
        neutrality.choose_mediator(choosing_case, party=consumer, mediator=other_mediator)


def test_a_pick_after_the_choice_period_is_refused(
    client: Client, choosing_case: Case, consumer: User, mediator: User
) -> None:
    choosing_case.deadlines.filter(kind=ClockKind.PARTY_CHOICE).update(due_date=datetime.date(2020, 1, 1))

    with pytest.raises(CaseError, match="期限已过"):
        neutrality.choose_mediator(choosing_case, party=consumer, mediator=mediator)
    client.force_login(consumer)
    page = client.get(choose_url(choosing_case))

    assert page.status_code == 200 and page.context["is_open"] is False
    assert not PartyChoice.objects.exists()


@pytest.mark.parametrize(
    "persona",
    [
        "outsider",
        "other_consumer",
        "other_bank_agent",
        "branch_agent",
        "mediator",
        "case_manager",
        "other_case_manager",
    ],
)
def test_only_the_parties_may_choose(
    client: Client, request: pytest.FixtureRequest, persona: str, choosing_case: Case, mediator: User
) -> None:
    client.force_login(request.getfixturevalue(persona))

    assert client.get(choose_url(choosing_case)).status_code == 404
    assert client.post(choose_url(choosing_case), {"mediator": profile_of(mediator).pk}).status_code == 404
    assert client.put(choose_url(choosing_case)).status_code == 404
    assert not PartyChoice.objects.exists()


def test_a_choice_by_a_non_party_is_refused_by_the_service_too(
    choosing_case: Case, other_bank_agent: User, mediator: User
) -> None:
    with pytest.raises(CaseError, match="当事人"):
        neutrality.choose_mediator(choosing_case, party=other_bank_agent, mediator=mediator)


def test_without_agreement_the_sweep_starts_the_assignment_clock_and_then_escalates_it(
    choosing_case: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    calendar = WorkingCalendar()
    choice = choosing_case.deadlines.get(kind=ClockKind.PARTY_CHOICE)
    # 在线调解规则 Art 10: 2 working days for the parties.
    assert choice.due_date == calendar.add_working_days(choice.start_date, 2)[0]
    neutrality.choose_mediator(choosing_case, party=consumer, mediator=mediator)
    neutrality.choose_mediator(choosing_case, party=bank_agent, mediator=other_mediator)

    assert sweep_deadlines(choice.due_date).assignment_clocks == 0
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_deadlines(choice.due_date + DAY)

    assert result.assignment_clocks == 1
    choice.refresh_from_db()
    assert choice.status == Deadline.Status.EXPIRED
    assignment = choosing_case.deadlines.get(kind=ClockKind.ASSIGNMENT)
    # Then 3 working days for the centre, counted from the day the parties' period ran out.
    assert assignment.due_date == calendar.add_working_days(assignment.start_date, 3)[0]
    assert Notification.objects.filter(recipient=case_manager, kind="mediation.clock.assignment_started").exists()
    with pytest.raises(CaseError):
        neutrality.choose_mediator(choosing_case, party=consumer, mediator=other_mediator)

    with django_capture_on_commit_callbacks(execute=True):
        late = sweep_deadlines(assignment.due_date + DAY)

    assert late.escalations == 1
    assignment.refresh_from_db()
    assert assignment.status == Deadline.Status.EXPIRED
    assert Notification.objects.filter(recipient=case_manager, kind="mediation.clock.expired").exists()
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR

    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    assert lead_of(choosing_case) == mediator


def test_a_centre_assignment_within_the_three_days_stops_the_clock(
    choosing_case: Case, case_manager: User, mediator: User
) -> None:
    choice = choosing_case.deadlines.get(kind=ClockKind.PARTY_CHOICE)
    sweep_deadlines(choice.due_date + DAY)

    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)

    assert choosing_case.deadlines.get(kind=ClockKind.ASSIGNMENT).status == Deadline.Status.MET
    transition = choosing_case.transitions.get(to_state=CaseState.AWAITING_MEDIATOR)
    assert transition.data["chosen_by_parties"] is False


def test_a_second_consumer_must_agree_too(
    choosing_case: Case, consumer: User, bank_agent: User, case_manager: User, mediator: User
) -> None:
    co_complainant = factories.user("co_complainant", "consumer", real_name="钱六")
    services.add_participant(choosing_case, co_complainant, CaseParticipant.Capacity.CONSUMER, actor=case_manager)

    neutrality.choose_mediator(choosing_case, party=consumer, mediator=mediator)
    neutrality.choose_mediator(choosing_case, party=bank_agent, mediator=mediator)
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR

    neutrality.choose_mediator(choosing_case, party=co_complainant, mediator=mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
