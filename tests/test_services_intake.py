"""Intake to the institution's answer: submit, accept/decline, transfer, extensions, answer, close."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mediation import clocks, ledger, permissions, services
from mediation.models import (
    Case,
    CaseState,
    ClockKind,
    Deadline,
    ExtensionRequest,
    InstitutionAnswer,
    IntakeChannel,
    LedgerEntry,
    LedgerHead,
    NotAcceptedReason,
    Notification,
    Organisation,
    User,
)
from mediation.services import CaseError
from tests import factories
from tests.case_state import fresh, last_entry, notified, snapshot


def submit(consumer: User, institution: Organisation, centre: Organisation, **kwargs: Any) -> Case:
    return factories.complaint(consumer, institution, centre, **kwargs)


# --- submit ----------------------------------------------------------------------------------


def test_consumer_submission_registers_case_with_history_ledger_and_access(
    consumer: User,
    bank: Organisation,
    centre: Organisation,
    case_manager: User,
    other_case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = submit(consumer, bank, centre)

    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED
    assert case.number == f"FQ{timezone.localdate().year}{case.pk:07d}"
    assert case.entered_by == consumer
    assert case.service_address_confirmed_at is not None
    assert not case.is_repeat and not case.escalated
    transition = case.transitions.get()
    assert (transition.from_state, transition.to_state, transition.actor) == ("", CaseState.SUBMITTED, consumer)
    entry = last_entry("mediation.case.submitted")
    assert entry.case == case and entry.actor == consumer
    assert entry.data["number"] == case.number
    assert entry.data["amount_in_dispute"] == "12000.00"
    assert entry.data["repeat"] is False
    assert LedgerEntry.objects.filter(action="mediation.participant.added", case=case).exists()
    assert fresh(consumer).has_perm(permissions.TAKE_PART, case)
    assert fresh(case_manager).has_perm(permissions.MANAGE, case)
    assert not fresh(other_case_manager).has_perm(permissions.VIEW, case)
    assert notified("mediation.case.submitted") == {"case_manager"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"product_category": "no_such_product"}, "产品类别"),
        ({"issue_type": "claim_refused"}, "问题类型"),
        ({"amount": "-1.00"}, "负数"),
    ],
)
def test_invalid_complaint_is_refused_and_nothing_is_stored(
    consumer: User, bank: Organisation, centre: Organisation, change: dict[str, str], message: str
) -> None:
    with pytest.raises(CaseError, match=message):
        submit(consumer, bank, centre, **change)
    assert Case.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_only_a_consumer_account_can_be_the_complainant(
    bank_agent: User, bank: Organisation, centre: Organisation
) -> None:
    with pytest.raises(CaseError, match="金融消费者"):
        submit(bank_agent, bank, centre)
    assert Case.objects.count() == 0


def test_complaint_must_name_an_institution_and_a_centre(
    consumer: User, bank: Organisation, centre: Organisation, court: Organisation
) -> None:
    with pytest.raises(CaseError, match="金融机构"):
        submit(consumer, court, centre)
    with pytest.raises(CaseError, match="调解中心"):
        submit(consumer, bank, bank)
    assert Case.objects.count() == 0


def test_case_manager_registers_a_hotline_complaint_on_behalf_of_a_consumer(
    consumer: User, bank: Organisation, centre: Organisation, case_manager: User
) -> None:
    case = submit(consumer, bank, centre, entered_by=case_manager, channel=IntakeChannel.HOTLINE)

    assert case.entered_by == case_manager
    assert case.intake_channel == IntakeChannel.HOTLINE
    assert case.transitions.get().actor == case_manager
    assert last_entry("mediation.case.submitted").actor == case_manager
    # The consumer is the party, not the clerk who typed it in.
    assert fresh(consumer).has_perm(permissions.TAKE_PART, case)
    assert not fresh(case_manager).has_perm(permissions.TAKE_PART, case)
    assert list(permissions.cases_for_user(fresh(consumer))) == [case]


@pytest.mark.parametrize("clerk", ["bank_agent", "mediator", "other_consumer", "court_clerk", "regulator"])
def test_only_centre_staff_may_register_a_complaint_for_someone_else(
    request: pytest.FixtureRequest, consumer: User, bank: Organisation, centre: Organisation, clerk: str
) -> None:
    with pytest.raises(CaseError, match="只有调解中心工作人员"):
        submit(consumer, bank, centre, entered_by=request.getfixturevalue(clerk))
    assert Case.objects.count() == 0


def test_case_manager_of_another_centre_cannot_register_for_this_centre(
    consumer: User, bank: Organisation, centre: Organisation, other_case_manager: User
) -> None:
    with pytest.raises(CaseError, match="本调解中心"):
        submit(consumer, bank, centre, entered_by=other_case_manager)
    assert Case.objects.count() == 0


# --- repeat complaints -------------------------------------------------------------------------


def test_second_complaint_about_same_product_and_bank_is_flagged_and_escalated(
    consumer: User,
    bank: Organisation,
    centre: Organisation,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = submit(consumer, bank, centre)
    with django_capture_on_commit_callbacks(execute=True):
        second = submit(consumer, bank, centre, issue_type="unauthorised_transaction")

    first.refresh_from_db()
    assert not first.is_repeat
    assert second.is_repeat and second.escalated
    assert last_entry("mediation.case.submitted").data["repeat"] is True
    message = Notification.objects.get(case=second, recipient=case_manager).message
    assert "重复投诉" in message and "90" in message


def test_complaints_against_branches_of_the_same_head_office_count_as_repeats(
    consumer: User, bank: Organisation, bank_branch: Organisation, centre: Organisation
) -> None:
    other_branch = factories.organisation(Organisation.Kind.INSTITUTION, "华南商业银行越秀支行", parent=bank)
    submit(consumer, bank_branch, centre)

    assert submit(consumer, other_branch, centre).is_repeat
    assert submit(consumer, bank, centre).is_repeat


def test_complaint_against_head_office_makes_a_later_branch_complaint_a_repeat(
    consumer: User, bank: Organisation, bank_branch: Organisation, centre: Organisation
) -> None:
    submit(consumer, bank, centre)
    assert submit(consumer, bank_branch, centre).is_repeat


@pytest.mark.parametrize(
    "second",
    [
        {"product_category": "personal_loan", "issue_type": "repayment"},
        {"institution": "other_bank"},
        {"consumer": "other_consumer"},
    ],
)
def test_different_product_institution_or_consumer_is_not_a_repeat(
    request: pytest.FixtureRequest, consumer: User, bank: Organisation, centre: Organisation, second: dict[str, str]
) -> None:
    submit(consumer, bank, centre)
    kwargs = dict(second)
    who = request.getfixturevalue(kwargs.pop("consumer")) if "consumer" in kwargs else consumer
    where = request.getfixturevalue(kwargs.pop("institution")) if "institution" in kwargs else bank

    case = submit(who, where, centre, **kwargs)

    assert not case.is_repeat and not case.escalated


@pytest.mark.parametrize("days_ago, repeat", [(89, True), (91, False)])
def test_repeat_window_is_ninety_days(
    consumer: User, bank: Organisation, centre: Organisation, days_ago: int, repeat: bool
) -> None:
    first = submit(consumer, bank, centre)
    Case.objects.filter(pk=first.pk).update(created_at=timezone.now() - datetime.timedelta(days=days_ago))

    assert submit(consumer, bank, centre).is_repeat is repeat


# --- accept / decline --------------------------------------------------------------------------


def test_accepting_a_complaint_records_and_tells_the_consumer(
    submitted_case: Case, case_manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.accept_case(submitted_case, actor=case_manager, ip="10.0.0.7")

    assert case.state == CaseState.ACCEPTED
    transition = case.transitions.last()
    assert (transition.from_state, transition.to_state, transition.actor) == (
        CaseState.SUBMITTED,
        CaseState.ACCEPTED,
        case_manager,
    )
    entry = last_entry("mediation.case.accepted")
    assert entry.data["from"] == CaseState.SUBMITTED and entry.data["to"] == CaseState.ACCEPTED
    assert entry.ip == "10.0.0.7"
    assert notified("mediation.case.accepted") == {"consumer"}


def test_accepting_twice_is_refused_and_changes_nothing(submitted_case: Case, case_manager: User) -> None:
    services.accept_case(submitted_case, actor=case_manager)
    before = snapshot(submitted_case)

    with pytest.raises(CaseError, match="已受理"):
        services.accept_case(submitted_case, actor=case_manager)

    assert snapshot(submitted_case) == before


def test_declining_records_the_reason_and_tells_the_consumer(
    submitted_case: Case, case_manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.decline_case(
            submitted_case, actor=case_manager, reason=NotAcceptedReason.IN_LITIGATION, note="已向天河法院起诉"
        )

    case.refresh_from_db()
    assert case.state == CaseState.NOT_ACCEPTED
    assert case.not_accepted_reason == NotAcceptedReason.IN_LITIGATION
    assert case.state_note == "已向天河法院起诉"
    assert case.is_final
    assert last_entry("mediation.case.not_accepted").data["code"] == NotAcceptedReason.IN_LITIGATION
    message = Notification.objects.get(kind="mediation.case.not_accepted").message
    assert str(NotAcceptedReason.IN_LITIGATION.label) in message
    assert notified("mediation.case.not_accepted") == {"consumer"}


@pytest.mark.parametrize(
    "reason, note, message",
    [("", "", "理由"), ("bored", "", "理由"), (NotAcceptedReason.OTHER, "  ", "具体情况")],
)
def test_declining_needs_a_listed_reason_and_other_needs_a_note(
    submitted_case: Case, case_manager: User, reason: str, note: str, message: str
) -> None:
    before = snapshot(submitted_case)
    with pytest.raises(CaseError, match=message):
        services.decline_case(submitted_case, actor=case_manager, reason=reason, note=note)
    assert snapshot(submitted_case) == before


def test_accepted_case_cannot_be_declined(submitted_case: Case, case_manager: User) -> None:
    services.accept_case(submitted_case, actor=case_manager)
    before = snapshot(submitted_case)

    with pytest.raises(CaseError, match="不予受理"):
        services.decline_case(submitted_case, actor=case_manager, reason=NotAcceptedReason.OUT_OF_SCOPE)

    assert snapshot(submitted_case) == before


# --- transfer ----------------------------------------------------------------------------------


def test_transfer_opens_the_case_to_the_institution_and_starts_its_15_day_clock(
    submitted_case: Case,
    case_manager: User,
    bank_agent: User,
    bank_supervisor: User,
    other_bank_agent: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    services.accept_case(submitted_case, actor=case_manager)
    assert not fresh(bank_agent).has_perm(permissions.VIEW, submitted_case)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.transfer_to_institution(submitted_case, actor=case_manager)

    assert case.state == CaseState.TRANSFERRED
    assert fresh(bank_agent).has_perm(permissions.ANSWER, case)
    assert not fresh(other_bank_agent).has_perm(permissions.VIEW, case)
    deadline = case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    assert deadline.status == Deadline.Status.RUNNING
    assert deadline.length_days == 15
    assert (deadline.due_date, deadline.provisional) == clocks.compute_due_date(deadline)
    assert last_entry("mediation.case.transferred").case == case
    assert notified("mediation.case.transferred") == {"bank_agent", "bank_supervisor", "consumer"}
    institution_message = Notification.objects.get(kind="mediation.case.transferred", recipient=bank_agent).message
    assert deadline.due_date.isoformat() in institution_message


def test_complaint_must_be_accepted_before_transfer(submitted_case: Case, case_manager: User, bank_agent: User) -> None:
    before = snapshot(submitted_case)

    with pytest.raises(CaseError, match="已转办机构"):
        services.transfer_to_institution(submitted_case, actor=case_manager)

    assert snapshot(submitted_case) == before
    assert not fresh(bank_agent).has_perm(permissions.VIEW, submitted_case)


def test_failure_late_in_transfer_leaves_nothing_behind(
    submitted_case: Case, case_manager: User, bank_agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock is the last write of the transfer: by then state, permissions and ledger are written."""
    services.accept_case(submitted_case, actor=case_manager)
    before = snapshot(submitted_case)
    head_before = LedgerHead.objects.values_list("seq", "entry_hash").get()
    real_start_clock = clocks.start_clock

    def start_then_fail(*args: Any, **kwargs: Any) -> Deadline:
        real_start_clock(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(clocks, "start_clock", start_then_fail)
    with pytest.raises(RuntimeError):
        services.transfer_to_institution(submitted_case, actor=case_manager)

    assert snapshot(submitted_case) == before
    assert before["state"] == CaseState.ACCEPTED
    assert not fresh(bank_agent).has_perm(permissions.VIEW, submitted_case)
    assert not Deadline.objects.filter(case=submitted_case).exists()
    assert LedgerHead.objects.values_list("seq", "entry_hash").get() == head_before
    assert ledger.verify().ok


def test_ledger_failure_during_transfer_leaves_nothing_behind(
    submitted_case: Case, case_manager: User, bank_agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.accept_case(submitted_case, actor=case_manager)
    before = snapshot(submitted_case)

    def refuse(*args: Any, **kwargs: Any) -> LedgerEntry:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(ledger, "record", refuse)
    with pytest.raises(RuntimeError):
        services.transfer_to_institution(submitted_case, actor=case_manager)

    assert snapshot(submitted_case) == before
    assert not fresh(bank_agent).has_perm(permissions.VIEW, submitted_case)


# --- extensions of the institution's clock ---------------------------------------------------------

# 银行业保险业消费投诉处理管理办法: 15 days, +15 at the institution's decision, +30 more with approval.


def answer_deadline(case: Case) -> Deadline:
    return Deadline.objects.get(case=case, kind=ClockKind.INSTITUTION_ANSWER)


def test_first_extension_adds_15_days_at_once_and_tells_the_consumer(
    transferred_case: Case, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_answer_extension(transferred_case, actor=bank_agent, reason="需调取录音核实")

    assert request.status == ExtensionRequest.Status.APPROVED
    assert request.days == 15
    deadline = answer_deadline(transferred_case)
    assert deadline.extension_days == 15
    assert (deadline.due_date, deadline.provisional) == clocks.compute_due_date(deadline)
    assert last_entry("mediation.extension.requested").data["needs_approval"] is False
    assert last_entry("mediation.extension.granted").data["due"] == deadline.due_date.isoformat()
    assert notified("mediation.extension.granted") == {"consumer"}
    assert "需调取录音核实" in Notification.objects.get(kind="mediation.extension.granted").message


def test_second_extension_waits_for_an_approver_of_the_institution(
    transferred_case: Case,
    bank_agent: User,
    bank_supervisor: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    services.request_answer_extension(transferred_case, actor=bank_agent, reason="需调取录音核实")
    due_after_first = answer_deadline(transferred_case).due_date

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_answer_extension(transferred_case, actor=bank_agent, reason="需总行法务审核")

    assert request.status == ExtensionRequest.Status.PENDING
    assert request.days == 30
    assert answer_deadline(transferred_case).due_date == due_after_first
    assert notified("mediation.extension.requested") == {"bank_supervisor"}

    with django_capture_on_commit_callbacks(execute=True):
        services.decide_extension(request, actor=bank_supervisor, approve=True)

    request.refresh_from_db()
    assert request.status == ExtensionRequest.Status.APPROVED
    assert request.decided_by == bank_supervisor
    deadline = answer_deadline(transferred_case)
    assert deadline.extension_days == 45
    assert deadline.due_date > due_after_first
    assert last_entry("mediation.extension.granted").actor == bank_supervisor
    assert notified("mediation.extension.granted") == {"consumer"}


def pending_second_extension(case: Case, requester: User) -> ExtensionRequest:
    services.request_answer_extension(case, actor=requester, reason="需调取录音核实")
    return services.request_answer_extension(case, actor=requester, reason="需总行法务审核")


def test_requester_cannot_approve_their_own_extension(transferred_case: Case, bank_supervisor: User) -> None:
    request = pending_second_extension(transferred_case, bank_supervisor)
    before = snapshot(transferred_case)

    with pytest.raises(CaseError, match="自己"):
        services.decide_extension(request, actor=bank_supervisor, approve=True)

    assert snapshot(transferred_case) == before
    request.refresh_from_db()
    assert request.status == ExtensionRequest.Status.PENDING


@pytest.mark.parametrize("approver", ["bank_agent", "other_bank_agent", "case_manager", "consumer"])
def test_extension_is_approved_only_by_an_approver_of_the_institution(
    request: pytest.FixtureRequest, transferred_case: Case, bank_supervisor: User, approver: str
) -> None:
    extension = pending_second_extension(transferred_case, bank_supervisor)
    person = request.getfixturevalue(approver)
    if approver == "other_bank_agent":
        # Even with the approval flag, another bank's agent holds no right on this case.
        User.objects.filter(pk=person.pk).update(can_approve_extensions=True)
    before = snapshot(transferred_case)

    with pytest.raises(CaseError, match="审批权限"):
        services.decide_extension(extension, actor=fresh(person), approve=True)

    assert snapshot(transferred_case) == before


def test_rejected_extension_leaves_the_clock_alone(
    transferred_case: Case, bank_agent: User, bank_supervisor: User
) -> None:
    extension = pending_second_extension(transferred_case, bank_agent)
    due = answer_deadline(transferred_case).due_date

    services.decide_extension(extension, actor=bank_supervisor, approve=False)

    extension.refresh_from_db()
    assert extension.status == ExtensionRequest.Status.REJECTED
    assert answer_deadline(transferred_case).due_date == due
    assert last_entry("mediation.extension.rejected").actor == bank_supervisor
    with pytest.raises(CaseError, match="已处理"):
        services.decide_extension(extension, actor=bank_supervisor, approve=True)


def test_no_second_request_while_one_is_pending_and_no_third_extension(
    transferred_case: Case, bank_agent: User, bank_supervisor: User
) -> None:
    extension = pending_second_extension(transferred_case, bank_agent)
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match="待审批"):
        services.request_answer_extension(transferred_case, actor=bank_agent, reason="再延")
    assert snapshot(transferred_case) == before

    services.decide_extension(extension, actor=bank_supervisor, approve=True)
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match="上限"):
        services.request_answer_extension(transferred_case, actor=bank_agent, reason="再延")
    assert snapshot(transferred_case) == before


def test_extension_needs_a_reason_and_an_institution_requester(
    transferred_case: Case, consumer: User, other_bank_agent: User
) -> None:
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match="理由"):
        services.request_answer_extension(transferred_case, actor=consumer, reason=" ")
    for outsider in (consumer, other_bank_agent):
        with pytest.raises(CaseError, match="经办人员"):
            services.request_answer_extension(transferred_case, actor=outsider, reason="需核实")
    assert snapshot(transferred_case) == before


def test_no_extension_after_the_answer_deadline_has_passed(transferred_case: Case, bank_agent: User) -> None:
    Deadline.objects.filter(case=transferred_case).update(due_date=timezone.localdate() - datetime.timedelta(days=1))
    before = snapshot(transferred_case)

    with pytest.raises(CaseError, match="已过"):
        services.request_answer_extension(transferred_case, actor=bank_agent, reason="需核实")

    assert snapshot(transferred_case) == before


def test_pending_extension_cannot_be_approved_once_the_institution_answered(
    transferred_case: Case, bank_agent: User, bank_supervisor: User
) -> None:
    extension = pending_second_extension(transferred_case, bank_agent)
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")
    before = snapshot(transferred_case)

    with pytest.raises(CaseError, match="答复期限已结束"):
        services.decide_extension(extension, actor=bank_supervisor, approve=True)

    assert snapshot(transferred_case) == before


def test_extension_only_while_the_institution_has_to_answer(submitted_case: Case, bank_agent: User) -> None:
    before = snapshot(submitted_case)
    with pytest.raises(CaseError, match="待机构答复"):
        services.request_answer_extension(submitted_case, actor=bank_agent, reason="需核实")
    assert snapshot(submitted_case) == before


# --- answer and close ------------------------------------------------------------------------------


def test_answer_not_resolved_stops_the_clock_and_tells_the_consumer_about_mediation(
    transferred_case: Case, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        answer = services.answer_complaint(
            transferred_case, agent=bank_agent, outcome=InstitutionAnswer.Outcome.NOT_RESOLVED, text="维持原处理意见。"
        )

    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.ANSWERED
    assert answer.agent == bank_agent and answer.text == "维持原处理意见。"
    assert answer_deadline(transferred_case).status == Deadline.Status.MET
    assert last_entry("mediation.case.answered").data == {
        "from": CaseState.TRANSFERRED,
        "to": CaseState.ANSWERED,
        "reason": "",
        "outcome": InstitutionAnswer.Outcome.NOT_RESOLVED,
        "late": False,
    }
    assert notified("mediation.case.answered") == {"consumer"}
    assert "调解" in Notification.objects.get(kind="mediation.case.answered").message


def test_late_answer_is_recorded_as_late(transferred_case: Case, bank_agent: User) -> None:
    Deadline.objects.filter(case=transferred_case).update(due_date=timezone.localdate() - datetime.timedelta(days=2))

    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还。")

    assert answer_deadline(transferred_case).status == Deadline.Status.EXPIRED
    assert last_entry("mediation.case.answered").data["late"] is True


def test_answer_attaches_only_evidence_of_the_same_case(
    transferred_case: Case, make_case: Callable[..., Case], bank_agent: User, consumer: User
) -> None:
    own = services.add_evidence(transferred_case, user=bank_agent, upload=SimpleUploadedFile("a.txt", b"call log\n"))
    other_case = make_case(product_category="deposit", issue_type="interest")
    foreign = services.add_evidence(other_case, user=consumer, upload=SimpleUploadedFile("b.txt", b"other case\n"))

    answer = services.answer_complaint(
        transferred_case, agent=bank_agent, outcome="resolved", text="见附件。", attachments=[own, foreign]
    )

    assert list(answer.attachments.all()) == [own]


@pytest.mark.parametrize("outcome, text, message", [("maybe", "x", "处理结果"), ("resolved", "  ", "答复内容")])
def test_answer_needs_an_outcome_and_a_text(
    transferred_case: Case, bank_agent: User, outcome: str, text: str, message: str
) -> None:
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match=message):
        services.answer_complaint(transferred_case, agent=bank_agent, outcome=outcome, text=text)
    assert snapshot(transferred_case) == before


def test_institution_cannot_answer_before_transfer(submitted_case: Case, case_manager: User, bank_agent: User) -> None:
    services.accept_case(submitted_case, actor=case_manager)
    before = snapshot(submitted_case)
    with pytest.raises(CaseError, match="机构已答复"):
        services.answer_complaint(submitted_case, agent=bank_agent, outcome="resolved", text="已处理。")
    assert snapshot(submitted_case) == before


def test_satisfied_consumer_closes_the_case(transferred_case: Case, bank_agent: User, consumer: User) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")

    case = services.accept_resolution(transferred_case, consumer=consumer)

    assert case.state == CaseState.CLOSED
    assert case.transitions.last().actor == consumer
    assert last_entry("mediation.case.closed").actor == consumer
    assert not Deadline.objects.filter(case=case, status__in=["running", "paused"]).exists()


def test_consumer_cannot_accept_a_resolution_before_the_answer(transferred_case: Case, consumer: User) -> None:
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match="机构已答复"):
        services.accept_resolution(transferred_case, consumer=consumer)
    assert snapshot(transferred_case) == before


def test_case_manager_closes_an_answered_case_and_parties_are_told(
    transferred_case: Case, bank_agent: User, case_manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")

    with django_capture_on_commit_callbacks(execute=True):
        case = services.close_case(transferred_case, actor=case_manager, reason="投诉人未再申请调解")

    assert case.state == CaseState.CLOSED
    assert case.transitions.last().reason == "投诉人未再申请调解"
    assert notified("mediation.case.closed") == {"consumer"}
