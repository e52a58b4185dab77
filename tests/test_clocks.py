"""The clock engine: Chinese working days, Art 85 roll-over, provisional years, pauses, extensions."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import chinese_calendar
import pytest
from django.utils import timezone

from mediation import clocks, services
from mediation.clocks import WorkingCalendar
from mediation.models import (
    Case,
    ClockKind,
    DayUnit,
    Deadline,
    ExtensionRequest,
    LedgerEntry,
    Notification,
    User,
)
from tests import factories

D = datetime.date
# chinese-calendar's data only, no administrator-loaded years (and no database needed).
BUILTIN = WorkingCalendar(loaded={})


def days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def unsaved(kind: str, start: datetime.date, **fields: int) -> Deadline:
    spec = clocks.CLOCK_SPECS[kind]
    return Deadline(kind=kind, unit=spec.unit, start_date=start, length_days=spec.length_days, **fields)


@pytest.fixture
def set_today(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime.date], None]:
    """Pin "today" (Asia/Shanghai) for the services, which read ``timezone.localdate()``."""
    real_localdate = timezone.localdate

    def pin(day: datetime.date) -> None:
        def localdate(value: datetime.datetime | None = None, timezone: object = None) -> datetime.date:
            return day if value is None else real_localdate(value, timezone)  # type: ignore[arg-type]

        monkeypatch.setattr("django.utils.timezone.localdate", localdate)

    return pin


# --- the package data the tests below rely on ---------------------------------------------


def test_package_has_spring_festival_2026_as_asserted_below() -> None:
    assert all(chinese_calendar.is_holiday(day) for day in days(D(2026, 2, 15), D(2026, 2, 23)))
    assert chinese_calendar.is_workday(D(2026, 2, 13)) and chinese_calendar.is_workday(D(2026, 2, 24))
    for adjusted in (D(2026, 2, 14), D(2026, 2, 28)):
        assert adjusted.weekday() == 5
        assert chinese_calendar.is_workday(adjusted)


def test_package_has_national_day_2025_as_asserted_below() -> None:
    assert all(chinese_calendar.is_holiday(day) for day in days(D(2025, 10, 1), D(2025, 10, 8)))
    assert D(2025, 9, 28).weekday() == 6 and chinese_calendar.is_workday(D(2025, 9, 28))
    assert D(2025, 10, 11).weekday() == 5 and chinese_calendar.is_workday(D(2025, 10, 11))


def test_package_knows_2026_but_not_2027() -> None:
    assert clocks.builtin_knows_year(2026)
    assert not clocks.builtin_knows_year(2027)


# --- working days ------------------------------------------------------------------------


def test_adjusted_saturday_counts_as_a_working_day() -> None:
    assert BUILTIN.is_workday(D(2026, 2, 14)) == (True, False)
    assert BUILTIN.is_workday(D(2025, 9, 28)) == (True, False)
    assert BUILTIN.is_workday(D(2026, 2, 16)) == (False, False)  # a Monday in the Spring Festival


def test_working_days_skip_the_spring_festival_2026() -> None:
    # From Friday 13 Feb: the 1st working day is the adjusted Saturday, the 2nd is after the holiday.
    assert BUILTIN.add_working_days(D(2026, 2, 13), 1) == (D(2026, 2, 14), False)
    assert BUILTIN.add_working_days(D(2026, 2, 13), 2) == (D(2026, 2, 24), False)
    # A mediator assigned on Thursday 12 Feb has until Tuesday 24 Feb (13th, 14th, 24th).
    assert BUILTIN.add_working_days(D(2026, 2, 12), 3) == (D(2026, 2, 24), False)
    # 14, 24, 25, 26, 27, 28 (adjusted Saturday) and Monday 2 March.
    assert BUILTIN.working_days_between(D(2026, 2, 13), D(2026, 3, 2)) == 7


def test_working_days_skip_national_day_2025() -> None:
    assert BUILTIN.add_working_days(D(2025, 9, 26), 1) == (D(2025, 9, 28), False)  # adjusted Sunday
    assert BUILTIN.add_working_days(D(2025, 9, 30), 1) == (D(2025, 10, 9), False)
    assert BUILTIN.add_working_days(D(2025, 9, 30), 3) == (D(2025, 10, 11), False)  # adjusted Saturday
    # 28, 29, 30 Sept, then 9, 10, 11 and 13 Oct.
    assert BUILTIN.working_days_between(D(2025, 9, 26), D(2025, 10, 13)) == 7


def test_party_choice_and_assignment_clocks_count_working_days() -> None:
    assert clocks.compute_due_date(unsaved(ClockKind.PARTY_CHOICE, D(2025, 9, 29)), BUILTIN) == (D(2025, 10, 9), False)
    assert clocks.compute_due_date(unsaved(ClockKind.ASSIGNMENT, D(2025, 10, 9)), BUILTIN) == (D(2025, 10, 13), False)


# --- calendar days and 民事诉讼法 Art 85 --------------------------------------------------------


def test_calendar_clock_ending_in_the_spring_festival_moves_to_the_first_day_after_it() -> None:
    # 31 Jan + 15 = Sunday 15 Feb, the first day of the holiday.
    deadline = unsaved(ClockKind.INSTITUTION_ANSWER, D(2026, 1, 31))
    assert clocks.compute_due_date(deadline, BUILTIN) == (D(2026, 2, 24), False)


def test_calendar_clock_ending_on_national_day_moves_to_the_first_day_after_it() -> None:
    deadline = unsaved(ClockKind.MEDIATION_TERM, D(2025, 9, 1))
    assert clocks.compute_due_date(deadline, BUILTIN) == (D(2025, 10, 9), False)


def test_calendar_clock_ending_on_a_weekend_moves_to_monday() -> None:
    deadline = unsaved(ClockKind.INSTITUTION_ANSWER, D(2026, 3, 6))  # + 15 = Saturday 21 March
    assert clocks.compute_due_date(deadline, BUILTIN) == (D(2026, 3, 23), False)


def test_calendar_clock_ending_on_an_adjusted_saturday_stays_there() -> None:
    deadline = unsaved(ClockKind.INSTITUTION_ANSWER, D(2026, 2, 13))  # + 15 = Saturday 28 Feb, worked
    assert clocks.compute_due_date(deadline, BUILTIN) == (D(2026, 2, 28), False)


# --- years without data -------------------------------------------------------------------


def test_year_without_data_is_monday_to_friday_and_provisional() -> None:
    assert BUILTIN.is_workday(D(2027, 1, 1)) == (True, True)  # a Friday; 元旦 not yet published
    assert BUILTIN.is_workday(D(2027, 1, 2)) == (False, True)


def test_clock_started_in_december_2026_is_provisional_until_2027_is_loaded(submitted_case: Case) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 12, 10))
    choice = clocks.start_clock(submitted_case, ClockKind.PARTY_CHOICE, start=D(2026, 12, 30))
    settled = clocks.start_clock(submitted_case, ClockKind.INSTITUTION_ANSWER, start=D(2026, 11, 2))
    # 10 Dec + 30 = Saturday 9 Jan 2027 → Monday 11 Jan on the Monday–Friday guess.
    assert (term.due_date, term.provisional) == (D(2027, 1, 11), True)
    # 31 Dec, then Friday 1 Jan 2027 guessed as a working day.
    assert (choice.due_date, choice.provisional) == (D(2027, 1, 1), True)
    assert (settled.due_date, settled.provisional) == (D(2026, 11, 17), False)

    # A made-up 2027 schedule (the real one is not published yet): 元旦 off, Saturday 9 Jan worked.
    entries = clocks.parse_calendar_text(["2027-01-01 holiday 元旦", "2027-01-09 workday 调休"], 2027)
    loaded = clocks.load_calendar_year(2027, entries, source="测试")

    assert loaded.recomputed == 2
    term.refresh_from_db()
    choice.refresh_from_db()
    settled.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 1, 9), False)
    assert (choice.due_date, choice.provisional) == (D(2027, 1, 4), False)
    assert (settled.due_date, settled.provisional) == (D(2026, 11, 17), False)
    moved = LedgerEntry.objects.filter(action="mediation.clock.recomputed").order_by("seq")
    assert {(e.data["from"], e.data["to"]) for e in moved} == {
        ("2027-01-11", "2027-01-09"),
        ("2027-01-01", "2027-01-04"),
    }
    assert LedgerEntry.objects.get(action="mediation.calendar.changed").data["holidays"] == ["2027-01-01"]


def test_recompute_leaves_closed_provisional_deadlines_alone(submitted_case: Case) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 12, 10))
    clocks.stop_clock(submitted_case, ClockKind.MEDIATION_TERM)
    clocks.load_calendar_year(2027, [clocks.CalendarEntry(D(2027, 1, 9), True, "调休")], source="测试")
    term.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 1, 11), True)


def test_loading_a_year_the_package_knows_overrides_it(submitted_case: Case) -> None:
    answer = clocks.start_clock(submitted_case, ClockKind.INSTITUTION_ANSWER, start=D(2026, 1, 31))
    assert answer.due_date == D(2026, 2, 24)

    # A (made-up) correction: only 16–17 Feb off, no adjusted Saturdays.
    loaded = clocks.load_calendar_year(
        2026,
        [clocks.CalendarEntry(D(2026, 2, 16), False, "春节"), clocks.CalendarEntry(D(2026, 2, 17), False, "春节")],
        source="更正",
    )

    calendar = WorkingCalendar()
    assert calendar.is_workday(D(2026, 2, 14)) == (False, False)
    assert calendar.is_workday(D(2026, 2, 18)) == (True, False)
    assert loaded.recomputed == 1
    answer.refresh_from_db()
    assert (answer.due_date, answer.provisional) == (D(2026, 2, 18), False)


def test_working_calendar_reads_the_database_once(submitted_case: Case, django_assert_num_queries: Callable) -> None:
    clocks.load_calendar_year(2027, [clocks.CalendarEntry(D(2027, 1, 1), False, "元旦")], source="测试")
    with django_assert_num_queries(2):
        calendar = WorkingCalendar()
        calendar.add_working_days(D(2026, 1, 1), 300)
        assert calendar.is_workday(D(2027, 1, 1)) == (False, False)


# --- pauses, extensions, remaining --------------------------------------------------------


def test_pause_and_resume_shift_the_due_date_by_the_paused_days(submitted_case: Case) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 3, 2))
    assert term.due_date == D(2026, 4, 1)

    clocks.pause_clock(term, "司法鉴定", on=D(2026, 3, 10))
    assert term.status == Deadline.Status.PAUSED
    assert clocks.remaining(term, D(2026, 3, 15), BUILTIN).paused
    clocks.resume_clock(term, on=D(2026, 3, 20))

    term.refresh_from_db()
    assert term.status == Deadline.Status.RUNNING
    assert term.paused_days == 10
    # 1 April + 10 = Saturday 11 April → Monday 13 April.
    assert term.due_date == D(2026, 4, 13)


def test_working_day_clocks_cannot_be_paused(submitted_case: Case) -> None:
    choice = clocks.start_clock(submitted_case, ClockKind.PARTY_CHOICE, start=D(2026, 3, 2))
    with pytest.raises(clocks.ClockError):
        clocks.pause_clock(choice, "鉴定")


def test_resuming_a_clock_that_is_not_paused_is_refused(submitted_case: Case) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 3, 2))
    with pytest.raises(clocks.ClockError):
        clocks.resume_clock(term, on=D(2026, 3, 5))


def test_extension_moves_the_due_date_in_the_clock_unit(submitted_case: Case) -> None:
    answer = clocks.start_clock(submitted_case, ClockKind.INSTITUTION_ANSWER, start=D(2026, 3, 2))
    assert answer.due_date == D(2026, 3, 17)
    clocks.extend_clock(answer, 15)
    assert answer.due_date == D(2026, 4, 1)
    acceptance = clocks.start_clock(submitted_case, ClockKind.MEDIATOR_ACCEPTANCE, start=D(2026, 2, 12))
    clocks.extend_clock(acceptance, 1)
    assert acceptance.due_date == D(2026, 2, 25)  # 4th working day: 13, 14, 24, 25 Feb


def test_closed_clock_cannot_be_extended(submitted_case: Case) -> None:
    clocks.start_clock(submitted_case, ClockKind.INSTITUTION_ANSWER, start=D(2026, 3, 2))
    answer = clocks.stop_clock(submitted_case, ClockKind.INSTITUTION_ANSWER)
    assert answer is not None
    with pytest.raises(clocks.ClockError):
        clocks.extend_clock(answer, 15)


def test_remaining_counts_calendar_and_working_days() -> None:
    deadline = unsaved(ClockKind.INSTITUTION_ANSWER, D(2026, 1, 31))
    deadline.due_date, deadline.provisional = clocks.compute_due_date(deadline, BUILTIN)  # 24 Feb

    before = clocks.remaining(deadline, D(2026, 2, 13), BUILTIN)
    assert (before.days, before.working_days, before.overdue) == (11, 2, False)  # 14 and 24 Feb
    on_the_day = clocks.remaining(deadline, D(2026, 2, 24), BUILTIN)
    assert (on_the_day.days, on_the_day.working_days, on_the_day.overdue) == (0, 0, False)
    after = clocks.remaining(deadline, D(2026, 2, 25), BUILTIN)
    assert (after.days, after.working_days, after.overdue) == (-1, -1, True)


def test_remaining_says_provisional_for_a_guessed_due_date() -> None:
    deadline = unsaved(ClockKind.JUDICIAL_CONFIRMATION, D(2026, 12, 20))
    deadline.due_date, deadline.provisional = clocks.compute_due_date(deadline, BUILTIN)
    assert clocks.remaining(deadline, D(2026, 12, 21), BUILTIN).provisional


# --- the clocks as the services run them --------------------------------------------------


def test_transfer_starts_the_fifteen_day_institution_clock(
    submitted_case: Case,
    case_manager: User,
    bank_agent: User,
    set_today: Callable[[datetime.date], None],
    django_capture_on_commit_callbacks: Callable,
) -> None:
    set_today(D(2026, 2, 2))
    services.accept_case(submitted_case, actor=case_manager)
    with django_capture_on_commit_callbacks(execute=True):
        services.transfer_to_institution(submitted_case, actor=case_manager)

    deadline = submitted_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    assert (deadline.status, deadline.unit, deadline.start_date) == (
        Deadline.Status.RUNNING,
        DayUnit.CALENDAR,
        D(2026, 2, 2),
    )
    # 2 Feb + 15 = 17 Feb, inside the Spring Festival → 24 Feb.
    assert deadline.due_date == D(2026, 2, 24)
    assert "2026-02-24" in Notification.objects.get(recipient=bank_agent, kind="mediation.case.transferred").message


def test_answer_extensions_fifteen_automatic_thirty_with_approval_then_no_more(
    submitted_case: Case,
    case_manager: User,
    bank_agent: User,
    bank_supervisor: User,
    set_today: Callable[[datetime.date], None],
    django_capture_on_commit_callbacks: Callable,
) -> None:
    set_today(D(2026, 2, 2))
    services.accept_case(submitted_case, actor=case_manager)
    services.transfer_to_institution(submitted_case, actor=case_manager)
    set_today(D(2026, 2, 10))

    first = services.request_answer_extension(submitted_case, actor=bank_agent, reason="需调取录音")
    deadline = submitted_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    assert first.status == ExtensionRequest.Status.APPROVED
    assert deadline.due_date == D(2026, 3, 4)  # 2 Feb + 30

    with django_capture_on_commit_callbacks(execute=True):
        second = services.request_answer_extension(submitted_case, actor=bank_agent, reason="需总行核查")
    deadline.refresh_from_db()
    assert second.status == ExtensionRequest.Status.PENDING
    assert deadline.due_date == D(2026, 3, 4)
    assert Notification.objects.filter(recipient=bank_supervisor, kind="mediation.extension.requested").exists()

    services.decide_extension(second, actor=bank_supervisor, approve=True)
    deadline.refresh_from_db()
    assert (deadline.extension_days, deadline.due_date) == (45, D(2026, 4, 3))  # 2 Feb + 60

    with pytest.raises(services.CaseError):
        services.request_answer_extension(submitted_case, actor=bank_agent, reason="再延期")
    assert deadline.extension_requests.count() == 2


def test_answering_stops_the_institution_clock(transferred_case: Case, bank_agent: User) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")
    deadline = transferred_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    assert deadline.status == Deadline.Status.MET
    assert deadline.closed_at is not None
    assert clocks.open_clock(transferred_case, ClockKind.INSTITUTION_ANSWER) is None


def test_appraisal_pause_through_the_services_extends_the_mediation_term(
    submitted_case: Case,
    consumer: User,
    case_manager: User,
    bank_agent: User,
    mediator: User,
    set_today: Callable[[datetime.date], None],
) -> None:
    set_today(D(2026, 3, 2))
    services.accept_case(submitted_case, actor=case_manager)
    services.transfer_to_institution(submitted_case, actor=case_manager)
    services.answer_complaint(submitted_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(submitted_case, consumer=consumer)
    services.record_institution_consent(submitted_case, agent=bank_agent, consent=True)
    services.assign_mediator(submitted_case, actor=case_manager, mediator=mediator)
    factories.accept_assignment(submitted_case, mediator=mediator)
    term = submitted_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)
    assert term.due_date == D(2026, 4, 1)

    set_today(D(2026, 3, 10))
    services.pause_mediation_term(submitted_case, actor=mediator, reason="委托司法鉴定")
    set_today(D(2026, 3, 17))
    services.resume_mediation_term(submitted_case, actor=mediator)

    term.refresh_from_db()
    assert (term.status, term.paused_days) == (Deadline.Status.RUNNING, 7)
    assert term.due_date == D(2026, 4, 8)  # 1 April + 7
