"""From the request for mediation to the end: consent, mediator, term, agreement, court, termination."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from mediation import ledger, permissions, services
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    LedgerEntry,
    Notification,
    TerminationReason,
    User,
)
from mediation.services import CaseError
from tests import factories
from tests.case_state import fresh, last_entry, notified, snapshot

S = CaseState


def clock(case: Case, kind: str) -> Deadline:
    return Deadline.objects.filter(case=case, kind=kind).latest("id")


def open_clocks(case: Case) -> set[str]:
    return set(Deadline.objects.filter(case=case, status__in=["running", "paused"]).values_list("kind", flat=True))


def put_in_state(case: Case, state: str) -> Case:
    """Place a case in ``state`` directly, to try a service from every state it must refuse."""
    Case.objects.filter(pk=case.pk).update(state=state)
    case.refresh_from_db()
    return case


@pytest.fixture
def answered_case(transferred_case: Case, bank_agent: User) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    transferred_case.refresh_from_db()
    return transferred_case


@pytest.fixture
def requested_case(answered_case: Case, consumer: User) -> Case:
    return services.request_mediation(answered_case, consumer=consumer)


@pytest.fixture
def choosing_case(requested_case: Case, bank_agent: User) -> Case:
    return services.record_institution_consent(requested_case, agent=bank_agent, consent=True)


@pytest.fixture
def awaiting_case(choosing_case: Case, case_manager: User, mediator: User) -> Case:
    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)
    choosing_case.refresh_from_db()
    return choosing_case


@pytest.fixture
def effective_case(mediating_case: Case, mediator: User) -> Case:
    return services.record_agreement_effective(mediating_case, actor=mediator)


# --- request and consent ---------------------------------------------------------------------------


def test_consumer_requests_mediation_after_the_answer(
    answered_case: Case, consumer: User, bank_supervisor: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.request_mediation(answered_case, consumer=consumer)

    assert case.state == S.MEDIATION_REQUESTED
    assert case.consent_online_mediation and case.consented_at is not None
    assert last_entry("mediation.case.mediation_requested").actor == consumer
    assert notified("mediation.case.mediation_requested") == {"bank_agent", "bank_supervisor", "case_manager"}


def test_mediation_straight_from_acceptance_gives_the_institution_access(
    submitted_case: Case, case_manager: User, consumer: User, bank_agent: User
) -> None:
    services.accept_case(submitted_case, actor=case_manager)

    case = services.request_mediation(submitted_case, consumer=consumer)

    assert case.state == S.MEDIATION_REQUESTED
    assert fresh(bank_agent).has_perm(permissions.ANSWER, case)


def test_mediation_cannot_be_requested_while_the_institution_has_to_answer(
    transferred_case: Case, consumer: User
) -> None:
    before = snapshot(transferred_case)
    with pytest.raises(CaseError, match="申请调解"):
        services.request_mediation(transferred_case, consumer=consumer)
    assert snapshot(transferred_case) == before


def test_institution_consent_starts_the_two_working_day_choice(
    requested_case: Case, bank_agent: User, bank_supervisor: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.record_institution_consent(requested_case, agent=bank_agent, consent=True)

    assert case.state == S.CHOOSING_MEDIATOR
    assert case.institution_consented_at is not None
    deadline = clock(case, ClockKind.PARTY_CHOICE)
    assert (deadline.unit, deadline.length_days, deadline.status) == ("working", 2, Deadline.Status.RUNNING)
    assert last_entry("mediation.case.consented").actor == bank_agent
    assert notified("mediation.case.consented") == {"consumer", "bank_agent", "bank_supervisor"}


def test_institution_refusal_terminates_with_refused(
    requested_case: Case, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.record_institution_consent(requested_case, agent=bank_agent, consent=False, reason="不同意调解")

    case.refresh_from_db()
    assert case.state == S.TERMINATED
    assert case.termination_reason == TerminationReason.REFUSED
    assert case.state_note == "不同意调解"
    assert case.institution_consented_at is None
    entry = last_entry("mediation.case.terminated")
    assert entry.data["code"] == TerminationReason.REFUSED and entry.actor == bank_agent
    assert open_clocks(case) == set()
    assert notified("mediation.case.terminated") == {"consumer", "case_manager"}
    assert "诉讼" in Notification.objects.filter(kind="mediation.case.terminated").first().message


def test_consent_is_only_asked_while_mediation_is_requested(choosing_case: Case, bank_agent: User) -> None:
    before = snapshot(choosing_case)
    for consent in (True, False):
        with pytest.raises(CaseError, match="申请调解"):
            services.record_institution_consent(choosing_case, agent=bank_agent, consent=consent)
    assert snapshot(choosing_case) == before


# --- choosing, assigning, accepting, declining -----------------------------------------------------


def test_assignment_clock_starts_once_when_parties_did_not_choose(
    choosing_case: Case, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deadline = services.start_assignment_clock(choosing_case)

    assert deadline is not None and deadline.kind == ClockKind.ASSIGNMENT and deadline.length_days == 3
    assert clock(choosing_case, ClockKind.PARTY_CHOICE).status == Deadline.Status.EXPIRED
    assert last_entry("mediation.clock.assignment_started").data["due"] == deadline.due_date.isoformat()
    assert notified("mediation.clock.assignment_started") == {"case_manager"}

    before = snapshot(choosing_case)
    assert services.start_assignment_clock(choosing_case) is None
    assert snapshot(choosing_case) == before


def test_assignment_clock_is_not_started_outside_the_choice(requested_case: Case) -> None:
    before = snapshot(requested_case)
    assert services.start_assignment_clock(requested_case) is None
    assert snapshot(requested_case) == before


def test_assigning_a_mediator_gives_access_and_starts_the_acceptance_clock(
    choosing_case: Case, case_manager: User, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    assert not fresh(mediator).has_perm(permissions.VIEW, choosing_case)

    with django_capture_on_commit_callbacks(execute=True):
        participant = services.assign_mediator(
            choosing_case, actor=case_manager, mediator=mediator, chosen_by_parties=True
        )

    choosing_case.refresh_from_db()
    assert choosing_case.state == S.AWAITING_MEDIATOR
    assert participant.capacity == CaseParticipant.Capacity.LEAD_MEDIATOR
    assert fresh(mediator).has_perm(permissions.MEDIATE, choosing_case)
    assert clock(choosing_case, ClockKind.PARTY_CHOICE).status == Deadline.Status.MET
    acceptance = clock(choosing_case, ClockKind.MEDIATOR_ACCEPTANCE)
    assert (acceptance.length_days, acceptance.status) == (3, Deadline.Status.RUNNING)
    assert last_entry("mediation.case.mediator_assigned").data["mediator"] == mediator.pk
    assert last_entry("mediation.case.mediator_assigned").data["chosen_by_parties"] is True
    assert notified("mediation.case.mediator_assigned") == {"mediator"}


def test_assignment_also_closes_the_centre_appointment_clock(
    choosing_case: Case, case_manager: User, mediator: User
) -> None:
    services.start_assignment_clock(choosing_case)

    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)

    assert clock(choosing_case, ClockKind.ASSIGNMENT).status == Deadline.Status.MET


def test_only_an_active_mediator_can_be_assigned(choosing_case: Case, case_manager: User, mediator: User) -> None:
    before = snapshot(choosing_case)
    with pytest.raises(CaseError, match="调解员"):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=case_manager)
    User.objects.filter(pk=mediator.pk).update(is_active=False)
    with pytest.raises(CaseError, match="调解员"):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=fresh(mediator))
    assert snapshot(choosing_case) == before


def test_mediator_cannot_be_assigned_before_both_sides_consent(
    requested_case: Case, case_manager: User, mediator: User
) -> None:
    before = snapshot(requested_case)
    with pytest.raises(CaseError, match="不能指定调解员"):
        services.assign_mediator(requested_case, actor=case_manager, mediator=mediator)
    assert snapshot(requested_case) == before
    assert not fresh(mediator).has_perm(permissions.VIEW, requested_case)


def test_mediator_acceptance_starts_the_30_day_term(
    awaiting_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = factories.accept_assignment(awaiting_case, mediator=mediator)

    assert case.state == S.MEDIATING
    assert clock(case, ClockKind.MEDIATOR_ACCEPTANCE).status == Deadline.Status.MET
    term = clock(case, ClockKind.MEDIATION_TERM)
    assert (term.unit, term.length_days, term.status) == ("calendar", 30, Deadline.Status.RUNNING)
    assert last_entry("mediation.case.mediator_accepted").actor == mediator
    assert notified("mediation.case.mediator_accepted") == {"consumer", "mediator", "case_manager"}


def test_only_the_assigned_mediator_can_accept(awaiting_case: Case, other_mediator: User) -> None:
    before = snapshot(awaiting_case)
    with pytest.raises(CaseError, match="不是本案的调解员"):
        factories.accept_assignment(awaiting_case, mediator=other_mediator)
    assert snapshot(awaiting_case) == before


def test_mediator_decline_needs_a_reason(awaiting_case: Case, mediator: User) -> None:
    before = snapshot(awaiting_case)
    with pytest.raises(CaseError, match="理由"):
        services.mediator_declines(awaiting_case, mediator=mediator, reason="   ")
    assert snapshot(awaiting_case) == before
    assert fresh(mediator).has_perm(permissions.MEDIATE, awaiting_case)


def test_mediator_decline_removes_access_at_once_and_starts_the_assignment_clock(
    awaiting_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    assert fresh(mediator).has_perm(permissions.VIEW, awaiting_case)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.mediator_declines(awaiting_case, mediator=mediator, reason="与投诉人系亲属，需回避")

    assert case.state == S.CHOOSING_MEDIATOR
    assert case.transitions.last().reason == "与投诉人系亲属，需回避"
    assert not fresh(mediator).has_perm(permissions.VIEW, case)
    assert not fresh(mediator).has_perm(permissions.MEDIATE, case)
    assert case not in permissions.cases_for_user(fresh(mediator))
    assert case.participants.get(user=mediator).removed_at is not None
    assert clock(case, ClockKind.MEDIATOR_ACCEPTANCE).status == Deadline.Status.MET
    assignment = clock(case, ClockKind.ASSIGNMENT)
    assert assignment.status == Deadline.Status.RUNNING
    assert last_entry("mediation.case.mediator_declined").data["reason"] == "与投诉人系亲属，需回避"
    assert last_entry("mediation.participant.removed").data["user"] == mediator.pk
    assert notified("mediation.case.mediator_declined") == {"case_manager"}
    assert assignment.due_date.isoformat() in Notification.objects.get(kind="mediation.case.mediator_declined").message


def test_centre_reassigns_after_a_decline(
    awaiting_case: Case, case_manager: User, mediator: User, other_mediator: User
) -> None:
    services.mediator_declines(awaiting_case, mediator=mediator, reason="工作冲突")

    services.assign_mediator(awaiting_case, actor=case_manager, mediator=other_mediator)
    case = factories.accept_assignment(awaiting_case, mediator=other_mediator)

    assert case.state == S.MEDIATING
    assert clock(case, ClockKind.ASSIGNMENT).status == Deadline.Status.MET
    assert fresh(other_mediator).has_perm(permissions.MEDIATE, case)
    assert not fresh(mediator).has_perm(permissions.VIEW, case)


def test_mediator_cannot_decline_after_accepting(mediating_case: Case, mediator: User) -> None:
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match="「调解中」，不能再拒绝委派"):
        services.mediator_declines(mediating_case, mediator=mediator, reason="太忙")
    assert snapshot(mediating_case) == before
    assert fresh(mediator).has_perm(permissions.MEDIATE, mediating_case)


def test_failure_during_decline_keeps_the_mediator_and_the_state(
    awaiting_case: Case, mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The participant's removal is written after the state move: a failure there undoes both."""
    before = snapshot(awaiting_case)
    real_record = ledger.record

    def fail_on_removal(action: str, **kwargs: Any) -> LedgerEntry:
        if action == "mediation.participant.removed":
            raise RuntimeError("ledger unavailable")
        return real_record(action, **kwargs)

    monkeypatch.setattr(ledger, "record", fail_on_removal)
    with pytest.raises(RuntimeError):
        services.mediator_declines(awaiting_case, mediator=mediator, reason="工作冲突")

    assert snapshot(awaiting_case) == before
    assert fresh(mediator).has_perm(permissions.MEDIATE, awaiting_case)


def test_removing_a_mediator_withdraws_access_at_once(mediating_case: Case, mediator: User, case_manager: User) -> None:
    participant = mediating_case.participants.get(user=mediator)

    services.remove_participant(participant, actor=case_manager, reason="当事人申请更换调解员")

    assert not fresh(mediator).has_perm(permissions.VIEW, mediating_case)
    assert last_entry("mediation.participant.removed").data["reason"] == "当事人申请更换调解员"


# --- the mediation term --------------------------------------------------------------------------


def test_parties_extend_the_term(mediating_case: Case, mediator: User, django_capture_on_commit_callbacks: Any) -> None:
    due = clock(mediating_case, ClockKind.MEDIATION_TERM).due_date

    with django_capture_on_commit_callbacks(execute=True):
        deadline = services.extend_mediation_term(mediating_case, actor=mediator, days=15, reason="双方同意延长")

    deadline.refresh_from_db()
    assert deadline.extension_days == 15
    assert deadline.due_date >= due + datetime.timedelta(days=15)
    assert last_entry("mediation.term.extended").data["due"] == deadline.due_date.isoformat()
    assert notified("mediation.term.extended") == {"consumer", "mediator"}


@pytest.mark.parametrize("days, reason, message", [(0, "同意", "1至90"), (91, "同意", "1至90"), (10, " ", "同意")])
def test_term_extension_needs_sensible_days_and_a_reason(
    mediating_case: Case, mediator: User, days: int, reason: str, message: str
) -> None:
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match=message):
        services.extend_mediation_term(mediating_case, actor=mediator, days=days, reason=reason)
    assert snapshot(mediating_case) == before


def test_term_extension_only_while_mediating(awaiting_case: Case, mediator: User) -> None:
    before = snapshot(awaiting_case)
    with pytest.raises(CaseError, match="调解中"):
        services.extend_mediation_term(awaiting_case, actor=mediator, days=10, reason="双方同意")
    assert snapshot(awaiting_case) == before


def test_appraisal_time_does_not_count_towards_the_term(mediating_case: Case, mediator: User) -> None:
    deadline = services.pause_mediation_term(mediating_case, actor=mediator, reason="委托司法鉴定")
    assert deadline.status == Deadline.Status.PAUSED
    assert last_entry("mediation.term.paused").data["reason"] == "委托司法鉴定"
    due = deadline.due_date
    Deadline.objects.filter(pk=deadline.pk).update(paused_since=timezone.localdate() - datetime.timedelta(days=10))

    deadline = services.resume_mediation_term(mediating_case, actor=mediator)

    assert deadline.status == Deadline.Status.RUNNING
    assert deadline.paused_days == 10
    assert deadline.due_date >= due + datetime.timedelta(days=10)
    assert last_entry("mediation.term.resumed").data["due"] == deadline.due_date.isoformat()


def test_pausing_twice_or_resuming_a_running_term_is_refused(mediating_case: Case, mediator: User) -> None:
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match="未暂停"):
        services.resume_mediation_term(mediating_case, actor=mediator)
    assert snapshot(mediating_case) == before

    services.pause_mediation_term(mediating_case, actor=mediator, reason="委托司法鉴定")
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match="计时中"):
        services.pause_mediation_term(mediating_case, actor=mediator, reason="再次暂停")
    assert snapshot(mediating_case) == before


# --- agreement, court, performance -----------------------------------------------------------------


def test_agreement_takes_effect_and_opens_the_30_day_confirmation_window(
    mediating_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    signed_at = timezone.now() - datetime.timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.record_agreement_effective(mediating_case, actor=mediator, effective_at=signed_at)

    case.refresh_from_db()
    assert case.state == S.AGREEMENT_EFFECTIVE
    assert case.agreement_effective_at == signed_at
    assert clock(case, ClockKind.MEDIATION_TERM).status == Deadline.Status.MET
    window = clock(case, ClockKind.JUDICIAL_CONFIRMATION)
    assert window.start_date == timezone.localdate(signed_at)
    assert window.length_days == 30
    assert notified("mediation.case.agreement_effective") == {"consumer", "mediator"}


def test_agreement_cannot_take_effect_outside_mediation(awaiting_case: Case, mediator: User) -> None:
    before = snapshot(awaiting_case)
    with pytest.raises(CaseError, match="调解协议已生效"):
        services.record_agreement_effective(awaiting_case, actor=mediator)
    assert snapshot(awaiting_case) == before


def test_joint_application_for_confirmation_within_30_days(
    effective_case: Case, case_manager: User, court_clerk: User, django_capture_on_commit_callbacks: Any
) -> None:
    case = services.record_confirmation_applied(effective_case, actor=case_manager)
    assert case.state == S.CONFIRMATION_APPLIED
    assert clock(case, ClockKind.JUDICIAL_CONFIRMATION).status == Deadline.Status.MET

    with django_capture_on_commit_callbacks(execute=True):
        case = services.record_confirmation_ruling(case, actor=court_clerk, confirmed=True)

    assert case.state == S.CONFIRMED
    assert last_entry("mediation.case.confirmation_ruled").actor == court_clerk
    assert notified("mediation.case.confirmation_ruled") == {"consumer", "mediator", "case_manager"}


def test_confirmation_cannot_be_applied_for_after_the_window(effective_case: Case, case_manager: User) -> None:
    Deadline.objects.filter(case=effective_case, kind=ClockKind.JUDICIAL_CONFIRMATION).update(
        due_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    before = snapshot(effective_case)

    with pytest.raises(CaseError, match="30日"):
        services.record_confirmation_applied(effective_case, actor=case_manager)

    assert snapshot(effective_case) == before


def test_confirmation_application_in_the_wrong_state_names_the_state(mediating_case: Case, case_manager: User) -> None:
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match="调解中"):
        services.record_confirmation_applied(mediating_case, actor=case_manager)
    assert snapshot(mediating_case) == before


def test_rejected_confirmation_tells_the_parties_why(
    effective_case: Case, case_manager: User, court_clerk: User, django_capture_on_commit_callbacks: Any
) -> None:
    services.record_confirmation_applied(effective_case, actor=case_manager)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.record_confirmation_ruling(
            effective_case, actor=court_clerk, confirmed=False, reason="协议内容违反法律强制性规定"
        )

    assert case.state == S.CONFIRMATION_REJECTED
    assert case.transitions.last().reason == "协议内容违反法律强制性规定"
    message = Notification.objects.get(kind="mediation.case.confirmation_ruled", recipient__username="consumer").message
    assert "协议内容违反法律强制性规定" in message


def test_performance_then_closing(effective_case: Case, case_manager: User) -> None:
    case = services.start_performance(effective_case, actor=case_manager)
    assert case.state == S.PERFORMING
    assert open_clocks(case) == set()

    case = services.close_case(case, actor=case_manager, reason="协议已履行完毕")

    assert case.state == S.CLOSED
    assert [t.to_state for t in case.transitions.all()][-3:] == [S.AGREEMENT_EFFECTIVE, S.PERFORMING, S.CLOSED]


# --- termination (在线调解规则 Art 25) -------------------------------------------------------------


@pytest.mark.parametrize("reason", [r for r in TerminationReason.values if r != TerminationReason.OTHER])
def test_mediation_ends_on_each_legal_reason(
    mediating_case: Case, mediator: User, reason: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = services.terminate_mediation(mediating_case, actor=mediator, reason=reason)

    case.refresh_from_db()
    assert case.state == S.TERMINATED
    assert case.termination_reason == reason
    assert open_clocks(case) == set()
    assert last_entry("mediation.case.terminated").data["code"] == reason
    assert notified("mediation.case.terminated") == {"consumer", "mediator", "case_manager"}
    assert (
        str(TerminationReason(reason).label)
        in Notification.objects.filter(kind="mediation.case.terminated").first().message
    )


def test_other_reason_is_accepted_with_a_note(mediating_case: Case, mediator: User) -> None:
    case = services.terminate_mediation(
        mediating_case, actor=mediator, reason=TerminationReason.OTHER, note="投诉人去世"
    )
    case.refresh_from_db()
    assert (case.state, case.termination_reason, case.state_note) == (S.TERMINATED, "other", "投诉人去世")


@pytest.mark.parametrize(
    "reason, note, message",
    [("", "", "法定理由"), ("tired", "", "法定理由"), (TerminationReason.OTHER, "  ", "具体情况")],
)
def test_termination_needs_a_legal_reason_and_other_needs_a_note(
    mediating_case: Case, mediator: User, reason: str, note: str, message: str
) -> None:
    before = snapshot(mediating_case)
    with pytest.raises(CaseError, match=message):
        services.terminate_mediation(mediating_case, actor=mediator, reason=reason, note=note)
    assert snapshot(mediating_case) == before


@pytest.mark.parametrize("state", [S.MEDIATION_REQUESTED, S.CHOOSING_MEDIATOR, S.AWAITING_MEDIATOR, S.MEDIATING])
def test_mediation_can_end_at_any_point_before_agreement(mediating_case: Case, case_manager: User, state: str) -> None:
    put_in_state(mediating_case, state)
    case = services.terminate_mediation(mediating_case, actor=case_manager, reason=TerminationReason.WITHDRAWN)
    assert case.state == S.TERMINATED


# --- every transition refused from every state it is not allowed from ------------------------------

Call = Callable[[Case, dict[str, User]], Any]

CALLS: dict[str, Call] = {
    "accept_case": lambda c, p: services.accept_case(c, actor=p["case_manager"]),
    "decline_case": lambda c, p: services.decline_case(c, actor=p["case_manager"], reason="out_of_scope"),
    "transfer_to_institution": lambda c, p: services.transfer_to_institution(c, actor=p["case_manager"]),
    "answer_complaint": lambda c, p: services.answer_complaint(
        c, agent=p["bank_agent"], outcome="resolved", text="已处理"
    ),
    "accept_resolution": lambda c, p: services.accept_resolution(c, consumer=p["consumer"]),
    "request_mediation": lambda c, p: services.request_mediation(c, consumer=p["consumer"]),
    "record_institution_consent": lambda c, p: services.record_institution_consent(
        c, agent=p["bank_agent"], consent=True
    ),
    "assign_mediator": lambda c, p: services.assign_mediator(c, actor=p["case_manager"], mediator=p["other_mediator"]),
    "mediator_accepts": lambda c, p: factories.accept_assignment(c, mediator=p["mediator"]),
    "mediator_declines": lambda c, p: services.mediator_declines(c, mediator=p["mediator"], reason="太忙"),
    "record_agreement_effective": lambda c, p: services.record_agreement_effective(c, actor=p["mediator"]),
    "record_confirmation_applied": lambda c, p: services.record_confirmation_applied(c, actor=p["case_manager"]),
    "confirm_agreement": lambda c, p: services.record_confirmation_ruling(c, actor=p["court_clerk"], confirmed=True),
    "reject_agreement": lambda c, p: services.record_confirmation_ruling(
        c, actor=p["court_clerk"], confirmed=False, reason="违反法律规定"
    ),
    "start_performance": lambda c, p: services.start_performance(c, actor=p["case_manager"]),
    "close_case": lambda c, p: services.close_case(c, actor=p["case_manager"], reason="结案"),
    "terminate_mediation": lambda c, p: services.terminate_mediation(c, actor=p["case_manager"], reason="withdrawn"),
}

# Which state each call moves to; the guard is ``ALLOWED_FROM`` of that state.
TARGETS = {
    "accept_case": S.ACCEPTED,
    "decline_case": S.NOT_ACCEPTED,
    "transfer_to_institution": S.TRANSFERRED,
    "answer_complaint": S.ANSWERED,
    "accept_resolution": S.CLOSED,
    "request_mediation": S.MEDIATION_REQUESTED,
    "record_institution_consent": S.CHOOSING_MEDIATOR,
    "assign_mediator": S.AWAITING_MEDIATOR,
    "mediator_accepts": S.MEDIATING,
    "mediator_declines": S.CHOOSING_MEDIATOR,
    "record_agreement_effective": S.AGREEMENT_EFFECTIVE,
    "record_confirmation_applied": S.CONFIRMATION_APPLIED,
    "confirm_agreement": S.CONFIRMED,
    "reject_agreement": S.CONFIRMATION_REJECTED,
    "start_performance": S.PERFORMING,
    "close_case": S.CLOSED,
    "terminate_mediation": S.TERMINATED,
}

# Calls guarded more narrowly than the table: they act on one stage only.
NARROWER = {
    "accept_resolution": {S.ANSWERED},
    "record_institution_consent": {S.MEDIATION_REQUESTED},
    "assign_mediator": {S.CHOOSING_MEDIATOR},
    "mediator_declines": {S.AWAITING_MEDIATOR},
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_illegal_transition_is_refused_and_changes_nothing(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    court_clerk: User,
    name: str,
) -> None:
    people = {
        "consumer": consumer,
        "bank_agent": bank_agent,
        "case_manager": case_manager,
        "mediator": mediator,
        "other_mediator": other_mediator,
        "court_clerk": court_clerk,
    }
    allowed = NARROWER.get(name, services.ALLOWED_FROM[TARGETS[name]])
    illegal = [state for state in S.values if state not in allowed]
    assert illegal
    for state in illegal:
        case = put_in_state(mediating_case, state)
        before = snapshot(case)

        with pytest.raises(CaseError) as refused:
            CALLS[name](case, people)

        assert str(refused.value).strip(), state
        assert snapshot(case) == before, state
    assert ledger.verify().ok


def test_every_service_that_moves_the_state_is_covered_by_the_illegal_transition_table() -> None:
    assert set(TARGETS) == set(CALLS)
    assert set(TARGETS.values()) == set(services.ALLOWED_FROM)
