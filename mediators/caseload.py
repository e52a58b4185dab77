"""Caseloads: the mediator's own dashboard and the case manager's view of the centre's pool.

Both pages read a fixed number of queries however many cases there are: cases come with their
open deadlines prefetched, loads are counted in SQL, and one ``WorkingCalendar`` (two queries)
serves every remaining-days computation of the request.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from mediation.clocks import Remaining, WorkingCalendar, remaining
from mediation.models import (
    FINAL_STATES,
    Case,
    CaseParticipant,
    CaseState,
    CaseTransition,
    ClockKind,
    Deadline,
    Organisation,
    Role,
    User,
)
from mediators.models import MediatorProfile

MEDIATOR_CAPACITIES = [CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR]
OPEN_DEADLINE_STATUSES = [Deadline.Status.RUNNING, Deadline.Status.PAUSED]
# A mediator carries a case from assignment until mediation ends one way or another.
LOAD_STATES = [CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING]
# "About to expire" on the case manager's view: due within this many working days, or overdue.
ACCEPTANCE_WARNING_WORKING_DAYS = 1


def _open_deadlines(lookup: str) -> Prefetch:
    return Prefetch(
        lookup,
        queryset=Deadline.objects.filter(status__in=OPEN_DEADLINE_STATUSES).order_by("due_date", "id"),
        to_attr="open_deadlines",
    )


class DeadlineShown:
    """What ``_deadline.html`` reads from a row: its deadline and what is left of it."""

    deadline: Deadline | None
    left: Remaining | None

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left.overdue

    @property
    def days_overdue(self) -> int:
        return -self.left.days if self.left is not None and self.left.overdue else 0


@dataclass(frozen=True)
class CaseRow(DeadlineShown):
    """One case on a dashboard with its nearest open deadline and what is left of it."""

    case: Case
    capacity: str
    deadline: Deadline | None
    left: Remaining | None

    @property
    def is_lead(self) -> bool:
        return self.capacity == CaseParticipant.Capacity.LEAD_MEDIATOR


def _sort_key(row: CaseRow) -> tuple[bool, datetime.date, str]:
    # Overdue first, then the nearest due date; cases without a running clock last.
    return (not row.overdue, row.deadline.due_date if row.deadline else datetime.date.max, row.case.number)


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class MediatorDashboard:
    awaiting_acceptance: list[CaseRow]
    open_cases: list[CaseRow]
    by_state: list[StateCount]


def mediator_dashboard(mediator: User, today: datetime.date | None = None) -> MediatorDashboard:
    """The mediator's open cases, overdue first, and the assignments waiting for their answer."""
    today = today or timezone.localdate()
    calendar = WorkingCalendar()
    participations = (
        CaseParticipant.objects.filter(user=mediator, removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES)
        .exclude(case__state__in=FINAL_STATES)
        .select_related("case", "case__institution")
        .prefetch_related(_open_deadlines("case__deadlines"))
    )
    rows: dict[int, CaseRow] = {}
    for participation in participations:
        case = participation.case
        deadlines: list[Deadline] = case.open_deadlines  # type: ignore[attr-defined]
        deadline = deadlines[0] if deadlines else None
        row = CaseRow(
            case=case,
            capacity=participation.capacity,
            deadline=deadline,
            left=remaining(deadline, today, calendar) if deadline else None,
        )
        # One row per case even if an old data fix left two active participations.
        if case.pk not in rows or row.is_lead:
            rows[case.pk] = row
    # 在线调解规则 Art 12: only the lead accepts or declines; a co-mediator's case is simply open.
    awaiting = sorted(
        (r for r in rows.values() if r.is_lead and r.case.state == CaseState.AWAITING_MEDIATOR), key=_sort_key
    )
    waiting_ids = {r.case.pk for r in awaiting}
    open_cases = sorted((r for r in rows.values() if r.case.pk not in waiting_ids), key=_sort_key)
    counts = Counter(r.case.state for r in rows.values())
    by_state = [StateCount(state, str(label), counts[state]) for state, label in CaseState.choices if counts[state]]
    return MediatorDashboard(awaiting_acceptance=awaiting, open_cases=open_cases, by_state=by_state)


# --- the centre's view -----------------------------------------------------------------------


def centre_mediators(centre: Organisation | None = None) -> QuerySet[User]:
    """Active mediator accounts of ``centre`` (every centre when None), profile joined in."""
    mediators = User.objects.filter(role=Role.MEDIATOR, is_active=True)
    if centre is not None:
        # A profile managed by the centre names it; an account without a profile yet still
        # belongs to the centre through its organisation.
        mediators = mediators.filter(Q(mediator_profile__centre=centre) | Q(organisation=centre))
    return mediators.select_related("mediator_profile", "organisation")


def profile_of(user: User) -> MediatorProfile | None:
    """The pool profile fetched with ``select_related``, or None (no query either way)."""
    return user.mediator_profile if hasattr(user, "mediator_profile") else None


@dataclass(frozen=True)
class MediatorLoad:
    mediator: User
    profile: MediatorProfile | None
    open_cases: int

    @property
    def name(self) -> str:
        return self.profile.display_name if self.profile else self.mediator.display_name

    @property
    def capacity(self) -> int | None:
        return self.profile.max_caseload if self.profile else None

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else self.capacity - self.open_cases

    @property
    def at_capacity(self) -> bool:
        return self.capacity is not None and self.open_cases >= self.capacity


@dataclass(frozen=True)
class UnassignedRow(DeadlineShown):
    case: Case
    waiting_since: datetime.datetime | None
    days_waiting: int | None
    deadline: Deadline | None
    left: Remaining | None


@dataclass(frozen=True)
class AcceptanceRow(DeadlineShown):
    case: Case
    deadline: Deadline
    left: Remaining
    lead: User | None


@dataclass(frozen=True)
class CentreLoad:
    mediators: list[MediatorLoad]
    unassigned: list[UnassignedRow]
    expiring: list[AcceptanceRow]


def mediator_loads(centre: Organisation) -> list[MediatorLoad]:
    """Open AWAITING_MEDIATOR / MEDIATING participations per mediator, counted in one query."""
    loaded = Count(
        "case_participations__case",
        filter=Q(
            case_participations__removed_at__isnull=True,
            case_participations__capacity__in=MEDIATOR_CAPACITIES,
            case_participations__case__state__in=LOAD_STATES,
        ),
        distinct=True,
    )
    mediators = centre_mediators(centre).annotate(open_cases=loaded).order_by("-open_cases", "real_name", "id")
    return [MediatorLoad(m, profile_of(m), m.open_cases) for m in mediators]  # type: ignore[attr-defined]


def unassigned_cases(centre: Organisation, today: datetime.date, calendar: WorkingCalendar) -> list[UnassignedRow]:
    """Cases waiting for a mediator, oldest first, with the party-choice or assignment clock."""
    entered = CaseTransition.objects.filter(case=OuterRef("pk"), to_state=CaseState.CHOOSING_MEDIATOR).order_by(
        "-at", "-id"
    )
    cases = (
        Case.objects.filter(centre=centre, state=CaseState.CHOOSING_MEDIATOR)
        .select_related("institution")
        .annotate(waiting_since=Subquery(entered.values("at")[:1]))
        .prefetch_related(
            Prefetch(
                "deadlines",
                queryset=Deadline.objects.filter(
                    status__in=OPEN_DEADLINE_STATUSES, kind__in=[ClockKind.PARTY_CHOICE, ClockKind.ASSIGNMENT]
                ).order_by("due_date", "id"),
                to_attr="choice_deadlines",
            )
        )
        .order_by("waiting_since", "created_at", "id")
    )
    rows = []
    for case in cases:
        deadlines: list[Deadline] = case.choice_deadlines  # type: ignore[attr-defined]
        deadline = deadlines[0] if deadlines else None
        since: datetime.datetime | None = case.waiting_since  # type: ignore[attr-defined]
        rows.append(
            UnassignedRow(
                case=case,
                waiting_since=since,
                days_waiting=(today - timezone.localdate(since)).days if since else None,
                deadline=deadline,
                left=remaining(deadline, today, calendar) if deadline else None,
            )
        )
    return rows


def expiring_acceptances(centre: Organisation, today: datetime.date, calendar: WorkingCalendar) -> list[AcceptanceRow]:
    """Open acceptance clocks due within ``ACCEPTANCE_WARNING_WORKING_DAYS`` or already overdue.

    The cut-off is computed once, so the filter runs in SQL; an overdue clock stays listed until
    the sweep releases the silent mediator (在线调解规则 Art 12).
    """
    cutoff, _provisional = calendar.add_working_days(today, ACCEPTANCE_WARNING_WORKING_DAYS)
    deadlines = (
        Deadline.objects.filter(
            case__centre=centre,
            kind=ClockKind.MEDIATOR_ACCEPTANCE,
            status__in=OPEN_DEADLINE_STATUSES,
            due_date__lte=cutoff,
        )
        .select_related("case")
        .prefetch_related(
            Prefetch(
                "case__participants",
                queryset=CaseParticipant.objects.filter(
                    removed_at__isnull=True, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR
                ).select_related("user"),
                to_attr="leads",
            )
        )
        .order_by("due_date", "id")
    )
    rows = []
    for deadline in deadlines:
        leads: list[CaseParticipant] = deadline.case.leads  # type: ignore[attr-defined]
        rows.append(
            AcceptanceRow(
                case=deadline.case,
                deadline=deadline,
                left=remaining(deadline, today, calendar),
                lead=leads[0].user if leads else None,
            )
        )
    return rows


def centre_load(centre: Organisation, today: datetime.date | None = None) -> CentreLoad:
    today = today or timezone.localdate()
    calendar = WorkingCalendar()
    return CentreLoad(
        mediators=mediator_loads(centre),
        unassigned=unassigned_cases(centre, today, calendar),
        expiring=expiring_acceptances(centre, today, calendar),
    )
