"""The deadline sweep: reminders before a legal clock runs out, escalation once it has.

``manage.py sweep_deadlines`` runs it, from cron every minute if you like: it is idempotent.
Reminders are keyed by (deadline, days before, due date) in ``DeadlineReminder``, so a re-run
sends nothing twice while an extension, which moves the due date, arms them again. Each deadline
is handled in its own transaction with the case and the deadline locked (in the services' order:
case first), so two sweeps running at once cannot both act on it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mediation import audience, ledger, services
from mediation.clocks import WorkingCalendar
from mediation.models import Case, ClockKind, DayUnit, Deadline, DeadlineReminder, User
from mediation.notifications import notify


@dataclass
class SweepResult:
    reminders: int = 0
    escalations: int = 0
    assignment_clocks: int = 0
    released_mediators: int = 0


def _both_sides_and_mediators(case: Case) -> list[User]:
    return audience.both_sides(case) + audience.mediators(case)


# Who must act before each clock runs out.
RECIPIENTS: dict[str, Callable[[Case], list[User]]] = {
    ClockKind.INSTITUTION_ANSWER: audience.institution_people,
    ClockKind.PARTY_CHOICE: audience.both_sides,
    ClockKind.ASSIGNMENT: audience.case_managers,
    ClockKind.MEDIATOR_ACCEPTANCE: audience.mediators,
    ClockKind.MEDIATION_TERM: _both_sides_and_mediators,
    ClockKind.JUDICIAL_CONFIRMATION: _both_sides_and_mediators,
}


def register_recipients(kind: str, recipients: Callable[[Case], list[User]]) -> None:
    """Apps further right say who hears about their clocks (the court's clerks for the court clocks)."""
    RECIPIENTS[kind] = recipients


# Reminders apps further right send on the same pass (the sessions' reminders before each
# sitting): each is called with the moment of the pass and returns how many reminders it sent.
TimedReminders = Callable[[datetime.datetime], int]
TIMED_REMINDERS: list[TimedReminders] = []


def register_timed_reminders(send: TimedReminders) -> None:
    if send not in TIMED_REMINDERS:
        TIMED_REMINDERS.append(send)


def _left_and_span(deadline: Deadline, today: datetime.date, calendar: WorkingCalendar) -> tuple[int, int]:
    """Days left and the clock's whole span, both in the clock's own unit.

    Working-day clocks count working days, so "1 day left" falls on the last working day before
    a long holiday rather than on a Sunday nobody reads.
    """
    if deadline.unit == DayUnit.WORKING:
        return (
            calendar.working_days_between(today, deadline.due_date),
            calendar.working_days_between(deadline.start_date, deadline.due_date),
        )
    return (deadline.due_date - today).days, (deadline.due_date - deadline.start_date).days


def reminder_step(
    deadline: Deadline, today: datetime.date, calendar: WorkingCalendar, thresholds: list[int]
) -> int | None:
    """The reminder threshold due now, if any: the smallest one not below the days left.

    Thresholds as long as the clock itself are skipped: they would fire the moment it starts,
    when the notice that started it has just told everyone the due date.
    """
    left, span = _left_and_span(deadline, today, calendar)
    if left < 0:
        return None
    return next((t for t in sorted(thresholds) if left <= t < span), None)


def _lock(deadline_id: int, case_id: int) -> Deadline | None:
    """Lock the case, then the deadline if it is still running: the services lock in that order."""
    Case.objects.select_for_update().filter(pk=case_id).first()
    return (
        Deadline.objects.select_for_update()
        .select_related("case", "case__centre")
        .filter(pk=deadline_id, status=Deadline.Status.RUNNING)
        .first()
    )


def _remind(
    deadline_id: int, case_id: int, today: datetime.date, calendar: WorkingCalendar, thresholds: list[int]
) -> bool:
    with transaction.atomic():
        deadline = _lock(deadline_id, case_id)
        if deadline is None or deadline.due_date < today:
            return False
        step = reminder_step(deadline, today, calendar, thresholds)
        if step is None:
            return False
        _reminder, created = DeadlineReminder.objects.get_or_create(
            deadline=deadline, days_before=step, due_date=deadline.due_date
        )
        if not created:
            return False
        left, _span = _left_and_span(deadline, today, calendar)
        case = deadline.case
        values = {"number": case.number, "kind": deadline.get_kind_display(), "due": deadline.due_date.isoformat()}
        if left == 0:
            message = _("案件 %(number)s 的「%(kind)s」今日（%(due)s）届满，请及时处理。") % values
        elif deadline.unit == DayUnit.WORKING:
            message = ngettext(
                "案件 %(number)s 的「%(kind)s」将于 %(due)s 届满，还剩 %(left)s 个工作日。",
                "案件 %(number)s 的「%(kind)s」将于 %(due)s 届满，还剩 %(left)s 个工作日。",
                left,
            ) % {
                **values,
                "left": left,
            }
        else:
            message = ngettext(
                "案件 %(number)s 的「%(kind)s」将于 %(due)s 届满，还剩 %(left)s 日。",
                "案件 %(number)s 的「%(kind)s」将于 %(due)s 届满，还剩 %(left)s 日。",
                left,
            ) % {
                **values,
                "left": left,
            }
        if deadline.provisional:
            message += " " + _("（该年节假日安排尚未公布，此日期按周一至周五推算，公布后可能调整。）")
        notify(RECIPIENTS[deadline.kind](case), "mediation.clock.reminder", message, case=case)
    return True


def _expire(deadline_id: int, case_id: int, today: datetime.date, result: SweepResult) -> None:
    with transaction.atomic():
        deadline = _lock(deadline_id, case_id)
        if deadline is None or deadline.due_date >= today:
            return
        now = timezone.now()
        deadline.status = Deadline.Status.EXPIRED
        deadline.closed_at = now
        deadline.escalated_at = now
        deadline.save(update_fields=["status", "closed_at", "escalated_at"])
        case = deadline.case
        ledger.record(
            "mediation.clock.expired",
            case=case,
            data={"deadline": deadline.pk, "kind": deadline.kind, "due": deadline.due_date.isoformat()},
        )
        result.escalations += 1
        if deadline.kind == ClockKind.PARTY_CHOICE and services.start_assignment_clock(case) is not None:
            # 在线调解规则 Art 10: the parties did not choose, so the centre appoints within
            # 3 working days; start_assignment_clock tells the case managers that itself.
            result.assignment_clocks += 1
            return
        if deadline.kind == ClockKind.MEDIATOR_ACCEPTANCE and services.release_silent_mediator(case) is not None:
            # Art 12: silence lets the centre reassign; release_silent_mediator starts the
            # 3-working-day assignment clock and tells the case managers itself.
            result.released_mediators += 1
            return
        message = _("案件 %(number)s 的「%(kind)s」已于 %(due)s 届满，已超期，请及时处理。") % {
            "number": case.number,
            "kind": deadline.get_kind_display(),
            "due": deadline.due_date.isoformat(),
        }
        notify(audience.case_managers(case), "mediation.clock.expired", message, case=case)


def _days(values: Iterable[int | str]) -> list[int]:
    return sorted({int(days) for days in values if int(days) >= 0})


def reminder_thresholds() -> dict[str, list[int]]:
    """Days left at which each kind of clock reminds people.

    The window for applying for judicial confirmation is the parties' to lose (民事诉讼法 Art 205),
    so it warns earlier (``JUDICIAL_CONFIRMATION_REMINDER_DAYS``, 10, 3 and 1 days by default).
    """
    default = _days(settings.DEADLINE_REMINDER_DAYS)
    special: dict[str, list[int]] = {
        ClockKind.JUDICIAL_CONFIRMATION: _days(settings.JUDICIAL_CONFIRMATION_REMINDER_DAYS)
    }
    return {kind: special.get(kind, default) for kind in ClockKind.values}


def sweep_deadlines(today: datetime.date | None = None, *, now: datetime.datetime | None = None) -> SweepResult:
    """Remind and escalate every running clock as of ``today`` (Asia/Shanghai by default), and send
    the registered hour-based reminders due at ``now``."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    by_kind = reminder_thresholds()
    calendar = WorkingCalendar()
    result = SweepResult()
    # A calendar-day clock further away than the largest threshold needs nothing today; a
    # working-day clock may be only a working day away across a long holiday, so it is always read.
    horizon = today + datetime.timedelta(days=max((max(t, default=0) for t in by_kind.values()), default=0))
    candidates = list(
        Deadline.objects.filter(status=Deadline.Status.RUNNING)
        .filter(Q(unit=DayUnit.WORKING) | Q(due_date__lte=horizon))
        .only("pk", "case_id", "kind", "unit", "start_date", "due_date")
    )
    already_sent = set(
        DeadlineReminder.objects.filter(deadline__status=Deadline.Status.RUNNING, due_date__gte=today).values_list(
            "deadline_id", "days_before", "due_date"
        )
    )
    for deadline in candidates:
        if deadline.due_date < today:
            _expire(deadline.pk, deadline.case_id, today, result)
            continue
        thresholds = by_kind[deadline.kind]
        step = reminder_step(deadline, today, calendar, thresholds)
        if step is not None and (deadline.pk, step, deadline.due_date) not in already_sent:
            result.reminders += _remind(deadline.pk, deadline.case_id, today, calendar, thresholds)
    for send in TIMED_REMINDERS:
        result.reminders += send(now)
    return result
