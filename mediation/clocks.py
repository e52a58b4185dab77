"""The one clock engine for every legal deadline.

Working days are Chinese working days: public holidays off, adjusted weekend workdays (调休) on.
Where the day is known:
1. a year an administrator loaded (``CalendarYear`` / ``CalendarDay``, from the State Council
   notice) wins;
2. else the ``chinese-calendar`` package, which knows 2004–2026;
3. else Monday–Friday, and every deadline computed through such a day is *provisional*; loading
   the year recomputes them (``recompute_provisional``).

Calendar-day clocks whose last day is not a working day end on the next working day
(民事诉讼法 Art 85: 期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import chinese_calendar
from django.db import transaction
from django.utils import timezone

from mediation.models import CalendarDay, CalendarYear, Case, ClockKind, DayUnit, Deadline


@dataclass(frozen=True)
class ClockSpec:
    unit: str
    length_days: int
    # Extensions allowed, in the order they may be granted; True = needs approval.
    extensions: tuple[tuple[int, bool], ...] = ()


CLOCK_SPECS: dict[str, ClockSpec] = {
    # 银行业保险业消费投诉处理管理办法: 15 days, +15 for complex cases, +30 more with approval.
    ClockKind.INSTITUTION_ANSWER: ClockSpec(DayUnit.CALENDAR, 15, ((15, False), (30, True))),
    # 在线调解规则 Art 10: parties choose jointly within 2 working days…
    ClockKind.PARTY_CHOICE: ClockSpec(DayUnit.WORKING, 2),
    # …else the organisation appoints within 3 working days.
    ClockKind.ASSIGNMENT: ClockSpec(DayUnit.WORKING, 3),
    # 在线调解规则 Art 12: the mediator accepts or declines within 3 working days.
    ClockKind.MEDIATOR_ACCEPTANCE: ClockSpec(DayUnit.WORKING, 3),
    # 在线调解规则 Arts 24, 26: 30 days, extendable by the parties; appraisal time excluded.
    ClockKind.MEDIATION_TERM: ClockSpec(DayUnit.CALENDAR, 30),
    # 民事诉讼法 Art 205: joint application within 30 days of the agreement taking effect.
    ClockKind.JUDICIAL_CONFIRMATION: ClockSpec(DayUnit.CALENDAR, 30),
}


class ClockError(Exception):
    """A clock operation that the rules do not allow; the message says why."""


def _loaded_years() -> dict[int, dict[datetime.date, bool]]:
    years: dict[int, dict[datetime.date, bool]] = {y: {} for y in CalendarYear.objects.values_list("year", flat=True)}
    for date, is_workday in CalendarDay.objects.values_list("date", "is_workday"):
        years.setdefault(date.year, {})[date] = is_workday
    return years


class WorkingCalendar:
    """Answers "is this a working day?" and says whether the answer is only provisional.

    Build one per computation (it reads the loaded years once) rather than per day.
    """

    def __init__(self, loaded: dict[int, dict[datetime.date, bool]] | None = None) -> None:
        self.loaded = _loaded_years() if loaded is None else loaded

    def is_workday(self, day: datetime.date) -> tuple[bool, bool]:
        """(working day?, provisional?)"""
        if day.year in self.loaded:
            override = self.loaded[day.year].get(day)
            return (override if override is not None else day.weekday() < 5), False
        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def add_working_days(self, start: datetime.date, days: int) -> tuple[datetime.date, bool]:
        """The ``days``-th working day after ``start`` (the start day itself does not count)."""
        day, provisional, counted = start, False, 0
        while counted < days:
            day += datetime.timedelta(days=1)
            workday, unsure = self.is_workday(day)
            provisional |= unsure
            counted += workday
        return day, provisional

    def next_workday_on_or_after(self, day: datetime.date) -> tuple[datetime.date, bool]:
        provisional = False
        while True:
            workday, unsure = self.is_workday(day)
            provisional |= unsure
            if workday:
                return day, provisional
            day += datetime.timedelta(days=1)

    def add_calendar_days(self, start: datetime.date, days: int) -> tuple[datetime.date, bool]:
        return self.next_workday_on_or_after(start + datetime.timedelta(days=days))

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += datetime.timedelta(days=1)
            count += self.is_workday(day)[0]
        return count


def compute_due_date(deadline: Deadline, calendar: WorkingCalendar | None = None) -> tuple[datetime.date, bool]:
    calendar = calendar or WorkingCalendar()
    total = deadline.length_days + deadline.extension_days
    if deadline.unit == DayUnit.WORKING:
        due, provisional = calendar.add_working_days(deadline.start_date, total)
    else:
        due, provisional = calendar.add_calendar_days(deadline.start_date, total + deadline.paused_days)
    return due, provisional


def start_clock(case: Case, kind: str, *, start: datetime.date | None = None, length_days: int | None = None) -> Deadline:
    """Start ``kind`` on ``case`` today (Asia/Shanghai). Call inside the service's transaction."""
    spec = CLOCK_SPECS[kind]
    deadline = Deadline(
        case=case,
        kind=kind,
        unit=spec.unit,
        start_date=start or timezone.localdate(),
        length_days=length_days if length_days is not None else spec.length_days,
    )
    deadline.due_date, deadline.provisional = compute_due_date(deadline)
    deadline.save()
    return deadline


def open_clock(case: Case, kind: str) -> Deadline | None:
    return (
        Deadline.objects.select_for_update()
        .filter(case=case, kind=kind, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED])
        .first()
    )


def stop_clock(case: Case, kind: str, status: str = Deadline.Status.MET) -> Deadline | None:
    """Close the open clock of ``kind`` (met or cancelled). Missing clocks are not an error."""
    deadline = open_clock(case, kind)
    if deadline is None:
        return None
    deadline.status = status
    deadline.closed_at = timezone.now()
    deadline.save(update_fields=["status", "closed_at"])
    return deadline


def stop_all_clocks(case: Case) -> None:
    Deadline.objects.filter(case=case, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED]).update(
        status=Deadline.Status.CANCELLED, closed_at=timezone.now()
    )


def extend_clock(deadline: Deadline, days: int) -> Deadline:
    if not deadline.is_open:
        raise ClockError("此期限已结束，不能延长。")
    deadline.extension_days += days
    deadline.due_date, deadline.provisional = compute_due_date(deadline)
    deadline.save(update_fields=["extension_days", "due_date", "provisional"])
    return deadline


def pause_clock(deadline: Deadline, reason: str, *, on: datetime.date | None = None) -> Deadline:
    """Stop counting (e.g. an appraisal: 在线调解规则 Art 26 excludes its time from the term)."""
    if deadline.status != Deadline.Status.RUNNING:
        raise ClockError("只有计时中的期限可以暂停。")
    if deadline.unit != DayUnit.CALENDAR:
        raise ClockError("工作日期限不能暂停。")
    deadline.status = Deadline.Status.PAUSED
    deadline.paused_since = on or timezone.localdate()
    deadline.pause_reason = reason
    deadline.save(update_fields=["status", "paused_since", "pause_reason"])
    return deadline


def resume_clock(deadline: Deadline, *, on: datetime.date | None = None) -> Deadline:
    if deadline.status != Deadline.Status.PAUSED or deadline.paused_since is None:
        raise ClockError("此期限未暂停。")
    resumed = on or timezone.localdate()
    deadline.paused_days += max(0, (resumed - deadline.paused_since).days)
    deadline.status = Deadline.Status.RUNNING
    deadline.paused_since = None
    deadline.pause_reason = ""
    deadline.due_date, deadline.provisional = compute_due_date(deadline)
    deadline.save(update_fields=["paused_days", "status", "paused_since", "pause_reason", "due_date", "provisional"])
    return deadline


@dataclass(frozen=True)
class Remaining:
    days: int  # calendar days left including today's end; 0 = due today, negative = overdue
    working_days: int
    overdue: bool
    provisional: bool
    paused: bool


def remaining(deadline: Deadline, today: datetime.date | None = None, calendar: WorkingCalendar | None = None) -> Remaining:
    today = today or timezone.localdate()
    calendar = calendar or WorkingCalendar()
    return Remaining(
        days=(deadline.due_date - today).days,
        working_days=calendar.working_days_between(today, deadline.due_date),
        overdue=deadline.due_date < today and deadline.is_open,
        provisional=deadline.provisional,
        paused=deadline.status == Deadline.Status.PAUSED,
    )


@transaction.atomic
def recompute_provisional() -> int:
    """Recompute every open provisional deadline, e.g. after a year's holidays were loaded."""
    calendar = WorkingCalendar()
    changed = 0
    for deadline in Deadline.objects.select_for_update().filter(
        provisional=True, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED]
    ):
        due, provisional = compute_due_date(deadline, calendar)
        if (due, provisional) != (deadline.due_date, deadline.provisional):
            deadline.due_date, deadline.provisional = due, provisional
            deadline.save(update_fields=["due_date", "provisional"])
            changed += 1
    return changed
