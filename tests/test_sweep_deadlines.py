"""The deadline sweep (``manage.py sweep_deadlines``): reminders once, escalation once, safe to re-run."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mediation import clocks, services
from mediation.models import Case, CaseState, ClockKind, Deadline, DeadlineReminder, LedgerEntry, Notification, User
from mediation.sweep import SweepResult, sweep_deadlines

D = datetime.date
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _reminder_days(settings: Any) -> None:
    settings.DEADLINE_REMINDER_DAYS = [3, 1]
    settings.JUDICIAL_CONFIRMATION_REMINDER_DAYS = [10, 3, 1]


def answer_clock(case: Case) -> Deadline:
    return case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER, status__in=["running", "paused"])


def reminded(user: User) -> int:
    return Notification.objects.filter(recipient=user, kind="mediation.clock.reminder").count()


def test_reminders_go_to_the_institution_once_per_threshold(
    transferred_case: Case, bank_agent: User, bank_supervisor: User, consumer: User, case_manager: User
) -> None:
    due = answer_clock(transferred_case).due_date

    assert sweep_deadlines(due - 4 * DAY).reminders == 0
    assert sweep_deadlines(due - 3 * DAY).reminders == 1
    assert sweep_deadlines(due - 3 * DAY).reminders == 0
    assert sweep_deadlines(due - 2 * DAY).reminders == 0
    assert sweep_deadlines(due - 1 * DAY).reminders == 1
    assert sweep_deadlines(due).reminders == 0

    assert (reminded(bank_agent), reminded(bank_supervisor)) == (2, 2)
    assert (reminded(consumer), reminded(case_manager)) == (0, 0)
    assert sorted(DeadlineReminder.objects.values_list("days_before", flat=True)) == [1, 3]
    last = Notification.objects.filter(recipient=bank_agent, kind="mediation.clock.reminder").first()
    assert last is not None and "还剩 1 日" in last.message and due.isoformat() in last.message


def test_an_expired_clock_is_escalated_to_the_centre_once(
    transferred_case: Case, case_manager: User, other_case_manager: User
) -> None:
    deadline = answer_clock(transferred_case)
    due = deadline.due_date

    assert sweep_deadlines(due).escalations == 0  # the due date itself still counts
    first = sweep_deadlines(due + DAY)
    second = sweep_deadlines(due + 2 * DAY)

    assert (first.escalations, second.escalations) == (1, 0)
    deadline.refresh_from_db()
    assert deadline.status == Deadline.Status.EXPIRED
    assert deadline.escalated_at is not None
    escalations = Notification.objects.filter(kind="mediation.clock.expired")
    assert [n.recipient for n in escalations] == [case_manager]
    entry = LedgerEntry.objects.get(action="mediation.clock.expired")
    assert entry.case_id == transferred_case.pk
    assert entry.data == {"deadline": deadline.pk, "kind": ClockKind.INSTITUTION_ANSWER, "due": due.isoformat()}


def test_an_answer_after_the_sweep_expired_the_clock_is_recorded_as_late(
    transferred_case: Case, bank_agent: User
) -> None:
    due = answer_clock(transferred_case).due_date
    assert sweep_deadlines(due + DAY).escalations == 1

    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")

    entry = LedgerEntry.objects.get(action="mediation.case.answered", case=transferred_case)
    assert entry.data["late"] is True
    assert transferred_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER).status == Deadline.Status.EXPIRED


def test_party_choice_expiry_starts_the_assignment_clock(
    transferred_case: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Callable,
) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    choice = transferred_case.deadlines.get(kind=ClockKind.PARTY_CHOICE)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_deadlines(choice.due_date + DAY)

    assert (result.escalations, result.assignment_clocks) == (1, 1)
    choice.refresh_from_db()
    assert choice.status == Deadline.Status.EXPIRED and choice.escalated_at is not None
    assignment = transferred_case.deadlines.get(kind=ClockKind.ASSIGNMENT)
    assert assignment.status == Deadline.Status.RUNNING
    told = Notification.objects.filter(recipient=case_manager, kind="mediation.clock.assignment_started")
    assert told.count() == 1
    assert LedgerEntry.objects.filter(action="mediation.clock.assignment_started", case=transferred_case).count() == 1

    again = sweep_deadlines(choice.due_date + DAY)
    assert (again.escalations, again.assignment_clocks) == (0, 0)
    assert transferred_case.deadlines.filter(kind=ClockKind.ASSIGNMENT).count() == 1
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.CHOOSING_MEDIATOR


def test_an_extension_rearms_the_reminders(transferred_case: Case, bank_agent: User) -> None:
    deadline = answer_clock(transferred_case)
    old_due = deadline.due_date
    assert sweep_deadlines(old_due - 3 * DAY).reminders == 1

    services.request_answer_extension(transferred_case, actor=bank_agent, reason="需调取录音")
    deadline.refresh_from_db()
    assert deadline.due_date > old_due

    assert sweep_deadlines(old_due + DAY) == SweepResult()  # the old due date no longer applies
    assert sweep_deadlines(deadline.due_date - 3 * DAY).reminders == 1
    assert reminded(bank_agent) == 2
    assert set(DeadlineReminder.objects.values_list("days_before", "due_date")) == {
        (3, old_due),
        (3, deadline.due_date),
    }


def test_a_paused_mediation_term_is_neither_reminded_nor_escalated(mediating_case: Case, mediator: User) -> None:
    services.pause_mediation_term(mediating_case, actor=mediator, reason="委托司法鉴定")
    term = mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)

    assert sweep_deadlines(term.due_date - DAY) == SweepResult()
    assert sweep_deadlines(term.due_date + 10 * DAY) == SweepResult()
    term.refresh_from_db()
    assert term.status == Deadline.Status.PAUSED
    assert not DeadlineReminder.objects.exists()


def test_mediation_term_reminder_goes_to_both_parties_and_the_mediator(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, case_manager: User, other_bank_agent: User
) -> None:
    term = mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)

    assert sweep_deadlines(term.due_date - DAY).reminders == 1

    assert (reminded(consumer), reminded(bank_agent), reminded(mediator)) == (1, 1, 1)
    assert (reminded(case_manager), reminded(other_bank_agent)) == (0, 0)


def test_working_day_clock_is_reminded_on_the_last_working_day_before_a_holiday(
    mediating_case: Case, mediator: User
) -> None:
    # Assigned Thursday 12 Feb 2026: accept by 24 Feb (13th, the adjusted Saturday 14th, 24th).
    clocks.start_clock(mediating_case, ClockKind.MEDIATOR_ACCEPTANCE, start=D(2026, 2, 12))

    assert sweep_deadlines(D(2026, 2, 13)).reminders == 0  # two working days left
    assert sweep_deadlines(D(2026, 2, 14)).reminders == 1  # one left, with nine days off ahead
    assert sweep_deadlines(D(2026, 2, 20)).reminders == 0
    message = Notification.objects.get(recipient=mediator, kind="mediation.clock.reminder").message
    assert "还剩 1 个工作日" in message and "2026-02-24" in message


def test_a_provisional_due_date_is_flagged_in_the_reminder(mediating_case: Case, mediator: User) -> None:
    acceptance = clocks.start_clock(mediating_case, ClockKind.MEDIATOR_ACCEPTANCE, start=D(2027, 3, 1))
    assert acceptance.provisional

    assert sweep_deadlines(acceptance.due_date - DAY).reminders == 1
    message = Notification.objects.get(recipient=mediator, kind="mediation.clock.reminder").message
    assert "尚未公布" in message


def test_command_prints_a_one_line_summary(transferred_case: Case) -> None:
    due = answer_clock(transferred_case).due_date
    out = StringIO()

    call_command("sweep_deadlines", "--today", (due - DAY).isoformat(), stdout=out)
    call_command("sweep_deadlines", "--today", (due + DAY).isoformat(), stdout=out)

    assert out.getvalue().splitlines() == [
        "已发送提醒 1 条，超期升级 0 件，启动指定调解员期限 0 件，释放逾期未答复的调解员 0 件。",
        "已发送提醒 0 条，超期升级 1 件，启动指定调解员期限 0 件，释放逾期未答复的调解员 0 件。",
    ]


def test_command_refuses_a_malformed_date(db: None) -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("sweep_deadlines", "--today", "22/11/2026")


def test_the_judicial_confirmation_window_reminds_at_10_3_and_1_days_left(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, case_manager: User
) -> None:
    """民事诉讼法 Art 205: the parties lose the 30-day window if they miss it, so they hear earlier."""
    services.record_agreement_effective(mediating_case, actor=mediator)
    window = mediating_case.deadlines.get(kind=ClockKind.JUDICIAL_CONFIRMATION)
    due = window.due_date

    assert sweep_deadlines(due - 11 * DAY).reminders == 0
    sent = [sweep_deadlines(due - days * DAY).reminders for days in (10, 9, 4, 3, 2, 1, 0)]
    assert sent == [1, 0, 0, 1, 0, 1, 0]
    assert (reminded(consumer), reminded(bank_agent), reminded(mediator)) == (3, 3, 3)
    assert reminded(case_manager) == 0
    # Other clocks keep the ordinary thresholds.
    assert sorted(DeadlineReminder.objects.filter(deadline=window).values_list("days_before", flat=True)) == [1, 3, 10]
