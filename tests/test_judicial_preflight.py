"""The pre-flight check: every problem appears when its cause is present and goes away once fixed."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from judicial_link.preflight import (
    AGREEMENT,
    APPLICATION_FORM,
    SIGNING_REPORT,
    PreflightResult,
    consumer_power_of_attorney,
    preflight,
    required_documents,
)
from judicial_link.venue import VenueFacts
from mediation import services
from mediation.clocks import WorkingCalendar
from mediation.models import Case, ClockKind, Deadline, Organisation, User
from signing import drafting
from signing.models import Agreement, AgreementVersion, IssuedCertificate
from tests import factories
from tests.pdf_fixtures import flip_byte_in_signed_range
from tests.signing_helpers import agreed_terms, prepared_agreement, sign_as

Capture = Any
TIANHE = "广东省广州市天河区"


@pytest.fixture
def tianhe_court(db: None) -> Organisation:
    return factories.organisation(
        Organisation.Kind.COURT,
        "广州市天河区人民法院",
        court_level=Organisation.CourtLevel.BASIC,
        court_code="J0106",
        region=TIANHE,
    )


@pytest.fixture
def hangzhou_court(db: None) -> Organisation:
    return factories.organisation(
        Organisation.Kind.COURT,
        "杭州市西湖区人民法院",
        court_level=Organisation.CourtLevel.BASIC,
        court_code="K0106",
        region="浙江省杭州市西湖区",
    )


@pytest.fixture
def signed_case(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Capture,
) -> Case:
    """A real agreement signed by everyone and sealed; the consumer's identity verified."""
    agreement = prepared_agreement(mediating_case, mediator)
    for person in (consumer, bank_agent, mediator, case_manager):
        sign_as(Agreement.objects.get(pk=agreement.pk), person, django_capture_on_commit_callbacks)
    User.objects.filter(pk=consumer.pk).update(identity_verified_at=timezone.now())
    return Case.objects.get(pk=mediating_case.pk)


def facts_for(consumer: User) -> VenueFacts:
    return VenueFacts(consumer_domiciles={consumer.pk: TIANHE})


def every_document(case: Case) -> dict[str, bool]:
    return {d.code: True for d in required_documents(case) if not d.derived}


def codes(result: PreflightResult) -> list[str]:
    return [p.code for p in result.problems]


def test_a_complete_case_passes_and_the_window_closes_after_its_last_day(
    signed_case: Case, tianhe_court: Organisation, consumer: User, case_manager: User
) -> None:
    effective_day = timezone.localdate(signed_case.agreement_effective_at)
    deadline = Deadline.objects.get(case=signed_case, kind=ClockKind.JUDICIAL_CONFIRMATION)

    def check(today: datetime.date) -> PreflightResult:
        return preflight(
            signed_case,
            court=tianhe_court,
            documents=every_document(signed_case),
            today=today,
            facts=facts_for(consumer),
        )

    def warning_codes(result: PreflightResult) -> list[str]:
        return [w.code for w in result.warnings if w.code != "window_provisional"]

    result = check(effective_day)
    assert result.ok, result.problems
    assert warning_codes(result) == []
    assert [w.code for w in result.warnings] == (["window_provisional"] if deadline.provisional else [])
    assert all(document.present for document in result.documents)
    # 30 calendar days from the day of effect; the clock engine moves a last day that is a holiday
    # to the next working day (民事诉讼法 Art 85), which is the only way it can be more than 30.
    expected_due, _provisional = WorkingCalendar().add_calendar_days(effective_day, 30)
    assert result.due_date == deadline.due_date == expected_due
    holiday_shift = (expected_due - effective_day - datetime.timedelta(days=30)).days
    assert result.days_left == 30 + holiday_shift

    due = result.due_date
    assert due is not None
    for days_before, expected in [(11, []), (10, ["window_10_days"]), (4, ["window_10_days"])]:
        later = check(due - datetime.timedelta(days=days_before))
        assert later.ok and later.days_left == days_before and warning_codes(later) == expected
    assert warning_codes(check(due - datetime.timedelta(days=3))) == ["window_3_days"]
    assert warning_codes(check(due - datetime.timedelta(days=1))) == ["window_1_day"]
    last_day = check(due)
    assert last_day.ok and last_day.days_left == 0
    assert warning_codes(last_day) == ["window_1_day"]
    assert "今天" in last_day.warnings[0].message

    closed = check(due + datetime.timedelta(days=1))
    assert codes(closed) == ["window_closed"]
    assert closed.days_left == -1 and closed.warnings == []
    assert due.isoformat() in closed.problems[0].message and closed.problems[0].fix

    services.record_confirmation_applied(signed_case, actor=case_manager)
    applied = check(effective_day)
    assert codes(applied) == ["wrong_case_state"]
    assert "不能重复申请" in applied.problems[0].fix and applied.days_left is None


def test_each_wrong_or_missing_item_is_named_until_it_is_fixed(
    signed_case: Case, tianhe_court: Organisation, hangzhou_court: Organisation, consumer: User, bank: Organisation
) -> None:
    documents = every_document(signed_case)
    facts = facts_for(consumer)

    def check(**changes: Any) -> PreflightResult:
        arguments: dict[str, Any] = {"court": tianhe_court, "documents": documents, "facts": facts}
        arguments.update(changes)
        return preflight(signed_case, **arguments)

    assert check().ok

    # The court: none chosen, one Art 205 does not allow, one it allows only on a place we were told.
    assert codes(check(court=None)) == ["no_court"]
    far = check(court=hangzhou_court)
    assert codes(far) == ["venue_not_allowed"]
    assert "杭州市西湖区人民法院" in far.problems[0].message and "第二百零五条" in far.problems[0].message
    assert codes(check(facts=None)) == ["venue_not_allowed"]

    # Documents: each missing one is its own problem, named, with how to provide it.
    nothing = check(documents=None)
    missing = [p for p in nothing.problems if p.code == "missing_document"]
    assert codes(nothing) == ["missing_document"] * len(missing)
    assert [p.subject for p in missing] == list(documents)
    labels = " ".join(p.message for p in missing)
    for name in ("司法确认申请书", "投诉人张三签署的承诺书", "华南商业银行签署的承诺书", "华南商业银行的营业执照副本"):
        assert name in labels
    assert "华南商业银行法定代表人身份证明书" in labels and "华南商业银行出具的授权委托书" in labels
    assert all(p.fix for p in missing)
    derived = {c.document.code: c.present for c in nothing.documents if c.document.derived}
    assert derived == {AGREEMENT: True, SIGNING_REPORT: True}
    for code in documents:
        one_missing = check(documents={**documents, code: False})
        assert [(p.code, p.subject) for p in one_missing.problems] == [("missing_document", code)]
    assert codes(check(documents={**documents, APPLICATION_FORM: False})) == ["missing_document"]

    # An agent acting for the consumer needs a power of attorney signed by the consumer.
    represented = check(consumer_agents=[consumer.pk])
    assert [p.subject for p in represented.problems] == [consumer_power_of_attorney(consumer)]
    assert "张三" in represented.problems[0].message
    assert check(consumer_agents=[consumer.pk], documents={**documents, consumer_power_of_attorney(consumer): True}).ok
    with pytest.raises(ValueError, match="not accepted"):
        check(documents={**documents, consumer_power_of_attorney(consumer): True})

    # Identity: the consumer's verification and the institution's credit code.
    User.objects.filter(pk=consumer.pk).update(identity_verified_at=None)
    unverified = check()
    assert [(p.code, p.subject) for p in unverified.problems] == [("identity_not_verified", f"consumer:{consumer.pk}")]
    assert "张三" in unverified.problems[0].message
    User.objects.filter(pk=consumer.pk).update(identity_verified_at=timezone.now())
    credit_code = bank.credit_code
    Organisation.objects.filter(pk=bank.pk).update(credit_code=None)
    assert [(p.code, p.subject) for p in check().problems] == [("identity_not_verified", "institution")]
    Organisation.objects.filter(pk=bank.pk).update(credit_code=credit_code)
    assert check().ok

    with pytest.raises(ValueError, match="not accepted"):
        check(documents={**documents, AGREEMENT: True})
    # An effective agreement always has its clock; if the record is lost the window cannot be told.
    Deadline.objects.filter(case=signed_case, kind=ClockKind.JUDICIAL_CONFIRMATION).delete()
    assert codes(check()) == ["window_unknown"]


def test_a_tampered_or_incomplete_stored_agreement_fails_the_signature_checks(
    signed_case: Case, tianhe_court: Organisation, consumer: User, other_centre: Organisation
) -> None:
    agreement = Agreement.objects.get(case=signed_case)
    latest = agreement.revisions.order_by("-number").first()
    assert latest is not None
    stored = Path(latest.file.path)
    original = stored.read_bytes()

    def check() -> PreflightResult:
        return preflight(
            signed_case, court=tianhe_court, documents=every_document(signed_case), facts=facts_for(consumer)
        )

    stored.write_bytes(flip_byte_in_signed_range(original))
    tampered = check()
    assert codes(tampered)[0] == "agreement_file_altered"
    invalid = [p for p in tampered.problems if p.code == "signature_invalid"]
    assert [p.subject for p in invalid] == ["consumer-1", "institution", "mediator-1", "centre-seal"]
    assert "篡改" in invalid[0].message or "改动" in invalid[0].message

    # The file as it was before the centre sealed it: the seal is missing.
    before_seal = agreement.revisions.get(number=latest.number - 1)
    stored.write_bytes(Path(before_seal.file.path).read_bytes())
    unsealed = check()
    assert [(p.code, p.subject) for p in unsealed.problems] == [
        ("agreement_file_altered", f"revision:{latest.number}"),
        ("seal_missing", "centre-seal"),
    ]

    stored.write_bytes(original)
    assert check().ok

    # A seal made with a certificate that is not the centre's own.
    seal = IssuedCertificate.objects.get(kind=IssuedCertificate.Kind.SEAL, organisation=signed_case.centre)
    IssuedCertificate.objects.filter(pk=seal.pk).update(organisation=other_centre)
    assert [(p.code, p.subject) for p in check().problems] == [("signer_mismatch", "centre-seal")]


def test_an_agreement_not_yet_signed_by_everyone_is_not_effective(
    mediating_case: Case,
    mediator: User,
    consumer: User,
    tianhe_court: Organisation,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    User.objects.filter(pk=consumer.pk).update(identity_verified_at=timezone.now())
    result = preflight(
        mediating_case, court=tianhe_court, documents=every_document(mediating_case), facts=facts_for(consumer)
    )
    assert codes(result) == ["wrong_case_state", "no_agreement"]
    assert result.days_left is None and result.due_date is None

    agreement = prepared_agreement(mediating_case, mediator)
    sign_as(agreement, consumer, django_capture_on_commit_callbacks)
    result = preflight(
        mediating_case, court=tianhe_court, documents=every_document(mediating_case), facts=facts_for(consumer)
    )
    assert codes(result) == ["wrong_case_state", "agreement_not_effective"]
    fix = result.problems[1].fix
    assert "华南商业银行" in fix and "吴调解员" in fix and "广东金融消费纠纷调解中心" in fix and "张三" not in fix
    assert result.days_left is None
    assert {c.document.code: c.present for c in result.documents if c.document.derived} == {
        AGREEMENT: False,
        SIGNING_REPORT: False,
    }


def test_an_agreement_without_the_joint_consent_clause_is_named(
    mediating_case: Case, mediator: User, consumer: User, tianhe_court: Organisation
) -> None:
    agreement = drafting.start_agreement(mediating_case, actor=mediator)
    version = drafting.save_version(
        agreement,
        actor=mediator,
        facts="申请人持有被申请人信用卡，被收取分期手续费。",
        dispute="申请人要求退还手续费。",
        terms=agreed_terms(judicial_confirmation_consent=False),
    )
    drafting.finalise(agreement, actor=mediator, version=version)

    def check() -> PreflightResult:
        return preflight(mediating_case, court=tianhe_court, facts=facts_for(consumer))

    refused = check()
    assert "no_joint_consent" in codes(refused)
    consent = next(p for p in refused.problems if p.code == "no_joint_consent")
    assert "共同申请" in consent.message and "补充协议" in consent.fix

    AgreementVersion.objects.filter(pk=version.pk).update(
        terms={**version.terms, "judicial_confirmation_consent": True}
    )
    assert "no_joint_consent" not in codes(check())
