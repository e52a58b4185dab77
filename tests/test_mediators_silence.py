"""在线调解规则 Art 12: a mediator silent past the 3-working-day acceptance deadline frees the case.

End to end through the deadline sweep: the mediator loses the case at once, the case goes back
to the centre with a 3-working-day assignment clock, the case managers are told, the ledger
records it, and a second sweep changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

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
from mediation.sweep import sweep_deadlines
from tests import factories
from tests.test_mediators_caseload import choosing_case, pool_member


@pytest.fixture
def assigned_case(
    make_case: Callable[..., Case], case_manager: User, bank_agent: User, mediator: User, centre: Organisation
) -> Case:
    pool_member(mediator, centre)
    case = choosing_case(make_case, case_manager, bank_agent)
    services.assign_mediator(case, actor=case_manager, mediator=mediator)
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_MEDIATOR
    # The assignment was made weeks ago: the sweep then runs on a real past day, and the
    # assignment clock the release starts today is not already past due on that day.
    start = timezone.localdate() - datetime.timedelta(days=20)
    due, _provisional = WorkingCalendar().add_working_days(start, 3)
    Deadline.objects.filter(case=case, kind=ClockKind.MEDIATOR_ACCEPTANCE).update(start_date=start, due_date=due)
    return case


def acceptance_clock(case: Case) -> Deadline:
    return Deadline.objects.get(case=case, kind=ClockKind.MEDIATOR_ACCEPTANCE)


def test_a_silent_mediator_is_released_and_the_case_returns_to_the_centre(
    client: Client,
    assigned_case: Case,
    mediator: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    case = assigned_case
    client.force_login(mediator)
    assert client.get(reverse("case_detail", kwargs={"pk": case.pk})).status_code == 200
    day_after = acceptance_clock(case).due_date + datetime.timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_deadlines(today=day_after)

    assert result.released_mediators == 1
    case.refresh_from_db()
    assert case.state == CaseState.CHOOSING_MEDIATOR
    assert acceptance_clock(case).status == Deadline.Status.EXPIRED
    # Off the case, and the permissions gone at once: a freshly read account holds none.
    participation = CaseParticipant.objects.get(case=case, user=mediator)
    assert participation.removed_at is not None
    again = User.objects.get(pk=mediator.pk)
    for perm in (permissions.VIEW, permissions.MEDIATE):
        assert not again.has_perm(perm, case)
    assert client.get(reverse("case_detail", kwargs={"pk": case.pk})).status_code == 404
    assert client.post(reverse("case_mediator_accept", kwargs={"pk": case.pk})).status_code == 404
    dashboard = client.get(reverse("mediators:mediator_dashboard")).context["dashboard"]
    assert dashboard.awaiting_acceptance == [] and dashboard.open_cases == []
    # Art 10: the centre now has 3 working days to appoint someone else.
    assignment = Deadline.objects.get(case=case, kind=ClockKind.ASSIGNMENT)
    assert assignment.status == Deadline.Status.RUNNING and assignment.length_days == 3
    assert assignment.due_date == WorkingCalendar().add_working_days(assignment.start_date, 3)[0]
    told = Notification.objects.get(recipient=case_manager, kind="mediation.case.mediator_silent")
    assert case.number in told.message and assignment.due_date.isoformat() in told.message
    assert Notification.objects.filter(recipient=mediator, kind="mediation.case.mediator_silent").exists()
    entry = LedgerEntry.objects.get(case=case, action="mediation.case.mediator_silent")
    assert entry.actor is None
    assert entry.data["mediator"] == mediator.pk
    assert entry.data["to"] == CaseState.CHOOSING_MEDIATOR

    # A second sweep the same day finds nothing more to do for this mediator.
    ledger_size = LedgerEntry.objects.filter(case=case).count()
    with django_capture_on_commit_callbacks(execute=True):
        second = sweep_deadlines(today=day_after)
    assert (second.released_mediators, second.escalations) == (0, 0)
    case.refresh_from_db()
    assert case.state == CaseState.CHOOSING_MEDIATOR
    assert Deadline.objects.filter(case=case, kind=ClockKind.ASSIGNMENT).count() == 1
    assert LedgerEntry.objects.filter(case=case, action="mediation.case.mediator_silent").count() == 1
    assert LedgerEntry.objects.filter(case=case).count() == ledger_size
    assert Notification.objects.filter(kind="mediation.case.mediator_silent", recipient=case_manager).count() == 1


def test_the_sweep_on_the_due_date_itself_leaves_the_mediator_in_place(assigned_case: Case, mediator: User) -> None:
    due = acceptance_clock(assigned_case).due_date
    result = sweep_deadlines(today=due)
    assert result.released_mediators == 0
    assigned_case.refresh_from_db()
    assert assigned_case.state == CaseState.AWAITING_MEDIATOR
    assert User.objects.get(pk=mediator.pk).has_perm(permissions.MEDIATE, assigned_case)


def test_a_mediator_who_accepted_in_time_is_not_released(assigned_case: Case, mediator: User) -> None:
    due = acceptance_clock(assigned_case).due_date
    factories.accept_assignment(assigned_case, mediator=mediator)
    result = sweep_deadlines(today=due + datetime.timedelta(days=1))
    assert result.released_mediators == 0
    assigned_case.refresh_from_db()
    assert assigned_case.state == CaseState.MEDIATING
    assert not LedgerEntry.objects.filter(case=assigned_case, action="mediation.case.mediator_silent").exists()


def test_the_released_case_can_be_assigned_to_another_mediator(
    assigned_case: Case, case_manager: User, other_mediator: User, centre: Organisation
) -> None:
    pool_member(other_mediator, centre)
    sweep_deadlines(today=acceptance_clock(assigned_case).due_date + datetime.timedelta(days=1))
    services.assign_mediator(assigned_case, actor=case_manager, mediator=other_mediator)
    assigned_case.refresh_from_db()
    assert assigned_case.state == CaseState.AWAITING_MEDIATOR
    assert Deadline.objects.get(case=assigned_case, kind=ClockKind.ASSIGNMENT).status == Deadline.Status.MET
    assert User.objects.get(pk=other_mediator.pk).has_perm(permissions.MEDIATE, assigned_case)
