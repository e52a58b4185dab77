"""The mediator's dashboard (/pool/me/) and the case manager's load view (/pool/load/)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediation import services
from mediation.clocks import WorkingCalendar
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    CaseTransition,
    ClockKind,
    Deadline,
    Organisation,
    Role,
    TerminationReason,
    User,
)
from mediators.models import MediatorProfile, Qualification
from tests import factories

DASHBOARD = "mediators:mediator_dashboard"
LOAD = "mediators:centre_load"


def pool_member(user: User, centre: Organisation, **fields: Any) -> MediatorProfile:
    """The mediator's roster profile with ``fields`` set, created assignable if missing."""
    profile = MediatorProfile.objects.filter(user=user).first()
    if profile is None:
        profile = MediatorProfile.objects.create(
            user=user,
            centre=centre,
            display_name=user.real_name or user.username,
            employment=MediatorProfile.Employment.FULL_TIME,
            region="广东省广州市",
        )
        Qualification.objects.create(profile=profile, name="人民调解员资格证书")
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save()
    return profile


def choosing_case(make_case: Callable[..., Case], case_manager: User, bank_agent: User, **fields: Any) -> Case:
    """A fresh case of the centre, brought to CHOOSING_MEDIATOR through the services."""
    case = make_case(**fields)
    consumer = case.participants.get(capacity=CaseParticipant.Capacity.CONSUMER).user
    services.accept_case(case, actor=case_manager)
    services.transfer_to_institution(case, actor=case_manager)
    services.answer_complaint(case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(case, consumer=consumer)
    services.record_institution_consent(case, agent=bank_agent, consent=True)
    case.refresh_from_db()
    assert case.state == CaseState.CHOOSING_MEDIATOR
    return case


@pytest.fixture
def pool(mediator: User, other_mediator: User, centre: Organisation) -> tuple[MediatorProfile, MediatorProfile]:
    return pool_member(mediator, centre, max_caseload=2), pool_member(other_mediator, centre, max_caseload=5)


@pytest.fixture
def new_case(make_case: Callable[..., Case], case_manager: User, bank_agent: User, pool: Any) -> Callable[..., Case]:
    def make(**fields: Any) -> Case:
        return choosing_case(make_case, case_manager, bank_agent, **fields)

    return make


@pytest.fixture
def assigned(new_case: Callable[..., Case], case_manager: User, mediator: User) -> Callable[..., Case]:
    """A case waiting for ``mediator``'s acceptance."""

    def make() -> Case:
        case = new_case()
        services.assign_mediator(case, actor=case_manager, mediator=mediator)
        return case

    return make


@pytest.fixture
def mediating(assigned: Callable[..., Case], mediator: User) -> Callable[..., Case]:
    def make() -> Case:
        case = assigned()
        return factories.accept_assignment(case, mediator=mediator)

    return make


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def move_due_date(case: Case, kind: str, due: datetime.date) -> None:
    assert Deadline.objects.filter(case=case, kind=kind, status=Deadline.Status.RUNNING).update(due_date=due) == 1


# --- mediator dashboard ----------------------------------------------------------------------


def test_assignment_waiting_for_acceptance_is_listed_with_its_deadline_and_working_days_left(
    client: Client, mediator: User, assigned: Callable[..., Case]
) -> None:
    case = assigned()
    response = login(client, mediator).get(reverse(DASHBOARD))
    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    [row] = dashboard.awaiting_acceptance
    assert row.case == case
    assert row.deadline.kind == ClockKind.MEDIATOR_ACCEPTANCE
    # 在线调解规则 Art 12: three working days to accept or decline.
    assert row.left.working_days == 3
    assert not row.overdue
    assert dashboard.open_cases == []
    page = response.content.decode()
    assert case.number in page
    assert "剩余 3 个工作日" in page


def test_overdue_cases_come_first_then_the_nearest_deadline(
    client: Client, mediator: User, mediating: Callable[..., Case]
) -> None:
    later, sooner, overdue = mediating(), mediating(), mediating()
    today = timezone.localdate()
    move_due_date(later, ClockKind.MEDIATION_TERM, today + datetime.timedelta(days=20))
    move_due_date(sooner, ClockKind.MEDIATION_TERM, today + datetime.timedelta(days=5))
    move_due_date(overdue, ClockKind.MEDIATION_TERM, today - datetime.timedelta(days=2))
    response = login(client, mediator).get(reverse(DASHBOARD))
    rows = response.context["dashboard"].open_cases
    assert [r.case for r in rows] == [overdue, sooner, later]
    assert rows[0].overdue and rows[0].days_overdue == 2
    page = response.content.decode()
    assert page.index(overdue.number) < page.index(sooner.number) < page.index(later.number)
    assert "已超期 2 日" in page


def test_cases_are_counted_by_state(
    client: Client, mediator: User, assigned: Callable[..., Case], mediating: Callable[..., Case]
) -> None:
    assigned()
    mediating()
    mediating()
    response = login(client, mediator).get(reverse(DASHBOARD))
    counts = {item.state: item.count for item in response.context["dashboard"].by_state}
    assert counts == {CaseState.AWAITING_MEDIATOR: 1, CaseState.MEDIATING: 2}


def test_co_mediator_sees_the_case_among_open_cases_not_as_an_assignment_to_accept(
    client: Client, case_manager: User, other_mediator: User, assigned: Callable[..., Case]
) -> None:
    case = assigned()
    services.add_co_mediator(case, actor=case_manager, mediator=other_mediator)
    dashboard = login(client, other_mediator).get(reverse(DASHBOARD)).context["dashboard"]
    assert dashboard.awaiting_acceptance == []
    [row] = dashboard.open_cases
    assert row.case == case and not row.is_lead


def test_finished_cases_and_other_mediators_cases_are_not_listed(
    client: Client,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    mediating: Callable[..., Case],
    new_case: Callable[..., Case],
) -> None:
    ended = mediating()
    services.terminate_mediation(ended, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    foreign = new_case()
    services.assign_mediator(foreign, actor=case_manager, mediator=other_mediator)
    response = login(client, mediator).get(reverse(DASHBOARD))
    dashboard = response.context["dashboard"]
    assert dashboard.awaiting_acceptance == [] and dashboard.open_cases == []
    assert ended.number not in response.content.decode()
    assert foreign.number not in response.content.decode()


def test_dashboard_query_count_does_not_grow_with_the_number_of_cases(
    client: Client, mediator: User, assigned: Callable[..., Case], mediating: Callable[..., Case]
) -> None:
    login(client, mediator)
    assigned()
    mediating()
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(DASHBOARD)).status_code == 200
    for _ in range(3):
        assigned()
        mediating()
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse(DASHBOARD))
    assert len(response.context["dashboard"].open_cases) + len(response.context["dashboard"].awaiting_acceptance) == 8
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "persona", ["outsider", "consumer", "bank_agent", "case_manager", "court_clerk", "regulator", "admin_user"]
)
def test_dashboard_is_404_for_anyone_but_a_mediator(
    client: Client, request: pytest.FixtureRequest, persona: str
) -> None:
    login(client, request.getfixturevalue(persona))
    assert client.get(reverse(DASHBOARD)).status_code == 404
    assert client.post(reverse(DASHBOARD)).status_code == 404


def test_dashboard_sends_anonymous_visitors_to_login(client: Client, db: None) -> None:
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_dashboard_refuses_post_from_a_mediator(client: Client, mediator: User) -> None:
    assert login(client, mediator).post(reverse(DASHBOARD)).status_code == 405


# --- case manager's load view ----------------------------------------------------------------


def test_load_counts_open_participations_per_mediator_against_capacity(
    client: Client,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    assigned: Callable[..., Case],
    mediating: Callable[..., Case],
    other_centre: Organisation,
) -> None:
    assigned()
    mediating()
    ended = mediating()
    services.terminate_mediation(ended, actor=mediator, reason=TerminationReason.WITHDRAWN)
    stranger = factories.user("foreign_pool_mediator", Role.MEDIATOR, other_centre, real_name="外地调解员")
    pool_member(stranger, other_centre)
    response = login(client, case_manager).get(reverse(LOAD))
    assert response.status_code == 200
    loads = {row.mediator: row for row in response.context["load"].mediators}
    assert set(loads) == {mediator, other_mediator}
    # Awaiting acceptance and mediating count; a terminated case does not.
    assert loads[mediator].open_cases == 2
    assert loads[mediator].capacity == 2 and loads[mediator].at_capacity and loads[mediator].free == 0
    assert loads[other_mediator].open_cases == 0 and loads[other_mediator].free == 5
    page = response.content.decode()
    assert "已满" in page
    assert "外地调解员" not in page


def test_mediator_without_a_profile_is_listed_without_a_capacity(
    client: Client, case_manager: User, centre: Organisation, pool: Any
) -> None:
    newcomer = factories.user("newcomer", Role.MEDIATOR, centre, real_name="新调解员")
    response = login(client, case_manager).get(reverse(LOAD))
    row = next(r for r in response.context["load"].mediators if r.mediator == newcomer)
    assert row.profile is None and row.capacity is None and row.free is None and not row.at_capacity
    assert "未建档" in response.content.decode()


def test_unassigned_cases_are_listed_oldest_first_with_their_choice_deadline(
    client: Client, case_manager: User, new_case: Callable[..., Case], assigned: Callable[..., Case]
) -> None:
    recent, old = new_case(), new_case()
    assigned()
    two_days_ago = timezone.now() - datetime.timedelta(days=2)
    CaseTransition.objects.filter(case=old, to_state=CaseState.CHOOSING_MEDIATOR).update(at=two_days_ago)
    response = login(client, case_manager).get(reverse(LOAD))
    rows = response.context["load"].unassigned
    assert [r.case for r in rows] == [old, recent]
    assert rows[0].days_waiting == 2 and rows[1].days_waiting == 0
    # 在线调解规则 Art 10: the parties' 2 working days to choose jointly.
    assert rows[0].deadline.kind == ClockKind.PARTY_CHOICE
    assert rows[0].left.working_days == 2


def test_assignment_clock_is_shown_once_the_parties_failed_to_choose(
    client: Client, case_manager: User, new_case: Callable[..., Case]
) -> None:
    case = new_case()
    services.start_assignment_clock(case)
    [row] = login(client, case_manager).get(reverse(LOAD)).context["load"].unassigned
    assert row.deadline.kind == ClockKind.ASSIGNMENT and row.left.working_days == 3


def test_acceptance_deadlines_within_one_working_day_or_overdue_are_flagged(
    client: Client, case_manager: User, mediator: User, assigned: Callable[..., Case]
) -> None:
    relaxed, due_today, overdue = assigned(), assigned(), assigned()
    today = timezone.localdate()
    next_workday, _provisional = WorkingCalendar().add_working_days(today, 1)
    move_due_date(due_today, ClockKind.MEDIATOR_ACCEPTANCE, next_workday)
    move_due_date(overdue, ClockKind.MEDIATOR_ACCEPTANCE, today - datetime.timedelta(days=1))
    response = login(client, case_manager).get(reverse(LOAD))
    rows = response.context["load"].expiring
    assert [r.case for r in rows] == [overdue, due_today]
    assert rows[0].overdue and not rows[1].overdue
    assert all(r.lead == mediator for r in rows)
    assert relaxed.number not in response.content.decode()


def test_load_view_shows_only_the_case_managers_own_centre(
    client: Client, other_case_manager: User, assigned: Callable[..., Case], new_case: Callable[..., Case]
) -> None:
    waiting, unassigned = assigned(), new_case()
    response = login(client, other_case_manager).get(reverse(LOAD))
    assert response.status_code == 200
    load = response.context["load"]
    assert load.mediators == [] and load.unassigned == [] and load.expiring == []
    page = response.content.decode()
    assert waiting.number not in page and unassigned.number not in page


def test_load_view_query_count_does_not_grow_with_cases_or_mediators(
    client: Client,
    case_manager: User,
    centre: Organisation,
    new_case: Callable[..., Case],
    assigned: Callable[..., Case],
    mediating: Callable[..., Case],
) -> None:
    login(client, case_manager)
    new_case()
    expiring = assigned()
    move_due_date(expiring, ClockKind.MEDIATOR_ACCEPTANCE, timezone.localdate())
    mediating()
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(LOAD)).status_code == 200
    for n in range(3):
        pool_member(factories.user(f"pool_{n}", Role.MEDIATOR, centre), centre)
        new_case()
        move_due_date(assigned(), ClockKind.MEDIATOR_ACCEPTANCE, timezone.localdate())
        mediating()
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse(LOAD))
    load = response.context["load"]
    assert (len(load.mediators), len(load.unassigned), len(load.expiring)) == (5, 4, 4)
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "persona", ["outsider", "consumer", "bank_agent", "mediator", "court_clerk", "regulator", "admin_user"]
)
def test_load_view_is_404_for_anyone_but_a_case_manager(
    client: Client, request: pytest.FixtureRequest, persona: str
) -> None:
    login(client, request.getfixturevalue(persona))
    assert client.get(reverse(LOAD)).status_code == 404
    assert client.post(reverse(LOAD)).status_code == 404
