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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import chinese_calendar
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import ledger
from mediation.models import CalendarDay, CalendarYear, Case, ClockKind, DayUnit, Deadline, User


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
    # 司法确认程序规定 Art 4: the court decides within 3 days whether to accept the application…
    ClockKind.COURT_ACCEPTANCE: ClockSpec(DayUnit.CALENDAR, 3),
    # …and Art 5 / 民事诉讼法 Art 206: rules within 15 days, +10 with the president's approval.
    ClockKind.COURT_RULING: ClockSpec(DayUnit.CALENDAR, 15, ((10, True),)),
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
        """``day`` itself when it is a working day, else the first working day after it."""
        provisional = False
        while True:
            workday, unsure = self.is_workday(day)
            provisional |= unsure
            if workday:
                return day, provisional
            day += datetime.timedelta(days=1)

    def add_calendar_days(self, start: datetime.date, days: int) -> tuple[datetime.date, bool]:
        """``days`` calendar days after ``start``, moved to the next working day (Art 85)."""
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
    """(due date, provisional?) from the start, length, extensions and paused days.

    The start day itself does not count (民事诉讼法 Art 85: 期间开始的时和日，不计算在期间内).
    """
    calendar = calendar or WorkingCalendar()
    total = deadline.length_days + deadline.extension_days
    if deadline.unit == DayUnit.WORKING:
        due, provisional = calendar.add_working_days(deadline.start_date, total)
    else:
        due, provisional = calendar.add_calendar_days(deadline.start_date, total + deadline.paused_days)
    return due, provisional


def start_clock(
    case: Case, kind: str, *, start: datetime.date | None = None, length_days: int | None = None
) -> Deadline:
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
    """The running or paused clock of ``kind``, locked for the caller's transaction."""
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
    """Cancel every open clock, e.g. when the case closes or mediation ends."""
    Deadline.objects.filter(case=case, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED]).update(
        status=Deadline.Status.CANCELLED, closed_at=timezone.now()
    )


def extend_clock(deadline: Deadline, days: int) -> Deadline:
    """Add ``days`` in the clock's own unit; reminders re-arm because the due date moves."""
    if not deadline.is_open:
        raise ClockError(_("此期限已结束，不能延长。"))
    deadline.extension_days += days
    deadline.due_date, deadline.provisional = compute_due_date(deadline)
    deadline.save(update_fields=["extension_days", "due_date", "provisional"])
    return deadline


def pause_clock(deadline: Deadline, reason: str, *, on: datetime.date | None = None) -> Deadline:
    """Stop counting (e.g. an appraisal: 在线调解规则 Art 26 excludes its time from the term)."""
    if deadline.status != Deadline.Status.RUNNING:
        raise ClockError(_("只有计时中的期限可以暂停。"))
    if deadline.unit != DayUnit.CALENDAR:
        raise ClockError(_("工作日期限不能暂停。"))
    deadline.status = Deadline.Status.PAUSED
    deadline.paused_since = on or timezone.localdate()
    deadline.pause_reason = reason
    deadline.save(update_fields=["status", "paused_since", "pause_reason"])
    return deadline


def resume_clock(deadline: Deadline, *, on: datetime.date | None = None) -> Deadline:
    """Count again; the due date moves by the days spent paused."""
    if deadline.status != Deadline.Status.PAUSED or deadline.paused_since is None:
        raise ClockError(_("此期限未暂停。"))
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


def remaining(
    deadline: Deadline, today: datetime.date | None = None, calendar: WorkingCalendar | None = None
) -> Remaining:
    today = today or timezone.localdate()
    calendar = calendar or WorkingCalendar()
    return Remaining(
        days=(deadline.due_date - today).days,
        working_days=calendar.working_days_between(today, deadline.due_date),
        overdue=deadline.due_date < today and deadline.is_open,
        provisional=deadline.provisional,
        paused=deadline.status == Deadline.Status.PAUSED,
    )


def recompute_provisional(years: Collection[int] = (), *, actor: User | None = None) -> int:
    """Recompute open deadlines after a year's holidays were loaded or corrected; returns how many moved.

    Every open provisional deadline is recomputed; with ``years``, so is every open deadline that
    may run through one of them, because a correction of a year chinese-calendar already knew
    can move deadlines that were never provisional. Each moved due date is written to the ledger.
    """
    affected = Q(provisional=True)
    if years:
        affected |= Q(start_date__year__lte=max(years), due_date__year__gte=min(years))
    calendar = WorkingCalendar()
    changed = 0
    with transaction.atomic():
        deadlines = (
            Deadline.objects.select_for_update()
            .select_related("case")
            .filter(affected, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED])
        )
        for deadline in deadlines:
            due, provisional = compute_due_date(deadline, calendar)
            if (due, provisional) == (deadline.due_date, deadline.provisional):
                continue
            previous = deadline.due_date
            deadline.due_date, deadline.provisional = due, provisional
            deadline.save(update_fields=["due_date", "provisional"])
            ledger.record(
                "mediation.clock.recomputed",
                actor=actor,
                case=deadline.case,
                data={
                    "deadline": deadline.pk,
                    "kind": deadline.kind,
                    "from": previous.isoformat(),
                    "to": due.isoformat(),
                    "provisional": provisional,
                },
            )
            changed += 1
    return changed


# --- loading a year's schedule ---------------------------------------------------------------
#
# The State Council notice (国务院办公厅关于某年部分节假日安排的通知) is typed into a text file,
# one line per day or run of days; ``manage.py load_holidays`` reads it. Format:
#
#     # comment lines and blank lines are ignored
#     2027-01-01 holiday 元旦
#     2027-02-06..2027-02-12 holiday 春节      (an inclusive run of days)
#     2027-02-14 workday 春节调休              (a weekend day worked instead)
#
# ``holiday`` (or 休) marks a day off, ``workday`` (or 班) a Saturday or Sunday worked; the name
# is optional. Loading replaces everything known about that year, built-in data included.

KIND_WORDS: dict[str, bool] = {"holiday": False, "休": False, "workday": True, "班": True}
NAME_MAX_LENGTH = CalendarDay._meta.get_field("name").max_length or 50


@dataclass(frozen=True)
class CalendarEntry:
    date: datetime.date
    is_workday: bool
    name: str = ""


class CalendarFileError(ValueError):
    """A schedule that cannot be loaded; ``errors`` lists every bad line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def builtin_knows_year(year: int) -> bool:
    """Whether the chinese-calendar package has this year's official schedule."""
    try:
        chinese_calendar.is_workday(datetime.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _parse_span(text: str) -> list[datetime.date]:
    first, _sep, last = text.partition("..")
    start = datetime.date.fromisoformat(first)
    end = datetime.date.fromisoformat(last) if last else start
    if end < start:
        raise ValueError(text)
    return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


def _check_day(day: datetime.date, is_workday: bool, year: int) -> str | None:
    if day.year != year:
        return _("%(day)s 不属于 %(year)s 年。") % {"day": day.isoformat(), "year": year}
    if is_workday and day.weekday() < 5:
        # 调休 moves work onto a weekend day; a weekday listed as a workday is a typing mistake.
        return _("%(day)s 本是工作日，调休上班日只能是周六或周日。") % {"day": day.isoformat()}
    return None


def parse_calendar_text(lines: Iterable[str], year: int) -> list[CalendarEntry]:
    """Read a schedule in the format above; raise ``CalendarFileError`` naming every bad line."""
    entries: dict[datetime.date, tuple[int, CalendarEntry]] = {}
    errors: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split(None, 2)
        where = _("第 %(line)s 行：") % {"line": number}
        if len(parts) < 2:
            errors.append(where + _("应写作「日期 holiday|workday 名称」。"))
            continue
        span, word = parts[0], parts[1].lower()
        name = parts[2].strip() if len(parts) > 2 else ""
        try:
            days = _parse_span(span)
        except ValueError:
            errors.append(where + _("日期「%(text)s」应写作 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD。") % {"text": span})
            continue
        if word not in KIND_WORDS:
            errors.append(where + _("「%(word)s」应为 holiday（休）或 workday（班）。") % {"word": parts[1]})
            continue
        if len(name) > NAME_MAX_LENGTH:
            errors.append(where + _("名称不能超过 %(limit)s 个字。") % {"limit": NAME_MAX_LENGTH})
            continue
        is_workday = KIND_WORDS[word]
        for day in days:
            problem = _check_day(day, is_workday, year)
            if problem is None and day in entries:
                problem = _("%(day)s 与第 %(other)s 行重复。") % {"day": day.isoformat(), "other": entries[day][0]}
            if problem is not None:
                errors.append(where + problem)
                break
            entries[day] = (number, CalendarEntry(day, is_workday, name))
    if not entries and not errors:
        errors.append(_("文件中没有任何节假日或调休日。"))
    if errors:
        raise CalendarFileError(errors)
    return [entry for _line, entry in sorted(entries.values(), key=lambda item: item[1].date)]


@dataclass(frozen=True)
class CalendarLoad:
    calendar_year: CalendarYear
    holidays: int
    workdays: int
    recomputed: int


def load_calendar_year(
    year: int, entries: Sequence[CalendarEntry], *, source: str, actor: User | None = None
) -> CalendarLoad:
    """Replace ``year``'s schedule with ``entries`` and recompute the deadlines it moves; all or nothing."""
    problems = [problem for entry in entries if (problem := _check_day(entry.date, entry.is_workday, year))]
    seen: set[datetime.date] = set()
    for entry in entries:
        if entry.date in seen:
            problems.append(_("%(day)s 重复。") % {"day": entry.date.isoformat()})
        seen.add(entry.date)
    if problems:
        raise CalendarFileError(problems)
    with transaction.atomic():
        calendar_year, _created = CalendarYear.objects.update_or_create(
            year=year, defaults={"source": source, "loaded_by": actor}
        )
        # Days are unique by date, so stray rows of this year under another year's record go too.
        CalendarDay.objects.filter(Q(year=calendar_year) | Q(date__year=year)).delete()
        CalendarDay.objects.bulk_create(
            CalendarDay(year=calendar_year, date=e.date, is_workday=e.is_workday, name=e.name) for e in entries
        )
        recomputed = record_calendar_change(year, actor=actor)
    workdays = sum(e.is_workday for e in entries)
    return CalendarLoad(calendar_year, len(entries) - workdays, workdays, recomputed)


def record_calendar_change(year: int, *, actor: User | None) -> int:
    """Write the year's schedule as it now stands to the ledger and recompute the affected deadlines.

    Called after every load, admin edit or deletion of a year; returns how many deadlines moved.
    """
    with transaction.atomic():
        calendar_year = CalendarYear.objects.filter(year=year).first()
        days = list(CalendarDay.objects.filter(date__year=year).order_by("date"))
        ledger.record(
            "mediation.calendar.changed",
            actor=actor,
            data={
                "year": year,
                "loaded": calendar_year is not None,
                "source": calendar_year.source if calendar_year else "",
                "holidays": [d.date.isoformat() for d in days if not d.is_workday],
                "workdays": [d.date.isoformat() for d in days if d.is_workday],
            },
        )
        return recompute_provisional(years=[year], actor=actor)
