"""Signing the final agreement: order, identity checks, evidence, concurrency, declining, effect."""

from __future__ import annotations

import datetime
import threading
from io import BytesIO
from typing import Any

import pytest
from django.db import connection
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from mediation.models import Case, CaseState, ClockKind, Deadline, Notification, TerminationReason, User
from signing import services, verify
from signing.models import Agreement, IssuedCertificate, PdfRevision, SignatureSlot, SigningEvent
from signing.services import SigningError
from tests.pdf_fixtures import flip_byte_in_signed_range, replace_page_after_signing, rotate_page_after_signing
from tests.signing_helpers import PASSWORD, last_code, prepared_agreement, read_latest, request_code, sign_as

Capture = Any


@pytest.fixture
def agreement(mediating_case: Case, mediator: User) -> Agreement:
    return prepared_agreement(mediating_case, mediator)


def refreshed(agreement: Agreement) -> Agreement:
    return Agreement.objects.select_related("case").get(pk=agreement.pk)


def test_preparing_adds_one_field_per_signer_in_the_fixed_order(agreement: Agreement) -> None:
    slots = list(agreement.slots.order_by("position"))
    assert [(s.role, s.stage) for s in slots] == [
        ("consumer", 1),
        ("institution", 1),
        ("mediator", 2),
        ("centre", 3),
    ]
    assert agreement.state == Agreement.State.SIGNING
    base = read_latest(agreement)
    reader = PdfFileReader(BytesIO(base))
    names = [name for name, _value, _ref in enumerate_sig_fields(reader)]
    assert names == [s.field_name for s in slots]
    assert not reader.embedded_signatures
    assert agreement.revisions.get().number == 0
    event = agreement.events.get(kind=SigningEvent.Kind.RENDERED)
    assert event.data["prepared_sha256"] == agreement.revisions.get().sha256


def test_preparing_twice_changes_nothing(agreement: Agreement, mediator: User) -> None:
    services.prepare_signing(agreement, actor=mediator)
    assert agreement.revisions.count() == 1 and agreement.slots.count() == 4


def test_everyone_signs_in_order_and_the_agreement_takes_effect(
    agreement: Agreement,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    for person in (consumer, bank_agent, mediator, case_manager):
        sign_as(refreshed(agreement), person, django_capture_on_commit_callbacks)
    agreement = refreshed(agreement)
    assert agreement.state == Agreement.State.EFFECTIVE
    case = agreement.case
    assert case.state == CaseState.AGREEMENT_EFFECTIVE
    assert case.agreement_effective_at == agreement.effective_at
    window = Deadline.objects.get(case=case, kind=ClockKind.JUDICIAL_CONFIRMATION)
    assert window.due_date >= datetime.date.today() + datetime.timedelta(days=29)

    assert list(agreement.revisions.values_list("number", flat=True)) == [0, 1, 2, 3, 4]
    final = read_latest(agreement)
    report = verify.verify_pdf(final)
    assert report.ok, report.verdict
    assert [s.field_name for s in report.signatures] == ["consumer-1", "institution", "mediator-1", "centre-seal"]
    assert all(s.intact and s.trusted and not s.changed_after for s in report.signatures)
    assert all(s.timestamp_at is not None for s in report.signatures)
    assert report.timestamps, "the centre seal adds a document timestamp (PAdES B-LTA)"
    assert report.signatures[0].signer == consumer.real_name
    assert "华南商业银行" in report.signatures[1].organisation
    reader = PdfFileReader(BytesIO(final))
    assert "/DSS" in reader.root, "validation data is embedded with the seal"

    # The real, sealed agreement: every kind of later change is reported, whatever pdfsig says.
    for tamper in (flip_byte_in_signed_range, rotate_page_after_signing, replace_page_after_signing):
        tampered = verify.verify_pdf(tamper(final))
        assert not tampered.ok, tamper.__name__
        assert any(not s.intact or s.changed_after for s in tampered.signatures), tamper.__name__


def test_each_signature_keeps_its_evidence(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    before = services.latest_revision(agreement)
    assert before is not None
    sign_as(agreement, consumer, django_capture_on_commit_callbacks)
    event = agreement.events.get(kind=SigningEvent.Kind.SIGNED)
    after = agreement.revisions.get(number=1)
    assert event.actor == consumer and event.ip == "203.0.113.9" and event.user_agent == "pytest"
    assert event.data["otp_verified"] is True and event.data["reauthenticated"] is True
    assert event.data["seen_sha256"] == before.sha256 and event.data["seen_sm3"] == before.sm3
    assert event.data["after_sha256"] == after.sha256 and event.data["after_sm3"] == after.sm3
    certificate = IssuedCertificate.objects.get(serial=event.data["certificate_serial"])
    assert certificate.user == consumer and certificate.kind == IssuedCertificate.Kind.EVENT
    assert certificate.key_destroyed_at is not None and not bytes(certificate.encrypted_key)
    assert agreement.events.filter(kind=SigningEvent.Kind.CODE_SENT, actor=consumer).exists()


@pytest.mark.parametrize("early", ["mediator", "case_manager"])
def test_signing_out_of_order_is_refused(
    agreement: Agreement, early: str, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Capture
) -> None:
    person: User = request.getfixturevalue(early)
    with pytest.raises(SigningError) as refused:
        sign_as(agreement, person, django_capture_on_commit_callbacks)
    assert refused.value.code == "out_of_order"
    assert agreement.revisions.count() == 1
    assert not agreement.events.filter(kind=SigningEvent.Kind.CODE_SENT).exists()


def test_an_outsider_and_another_institution_are_not_signers(
    agreement: Agreement, outsider: User, other_bank_agent: User, django_capture_on_commit_callbacks: Capture
) -> None:
    for person in (outsider, other_bank_agent):
        with pytest.raises(SigningError) as refused:
            sign_as(agreement, person, django_capture_on_commit_callbacks)
        assert refused.value.code == "not_signer"
    assert agreement.revisions.count() == 1


def test_a_second_signature_by_the_same_person_is_refused(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    sign_as(agreement, consumer, django_capture_on_commit_callbacks)
    with pytest.raises(SigningError) as again:
        sign_as(refreshed(agreement), consumer, django_capture_on_commit_callbacks)
    assert again.value.code == "already_signed"
    assert agreement.revisions.count() == 2


def test_a_retried_request_does_not_sign_twice(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    first = sign_as(agreement, consumer, django_capture_on_commit_callbacks, request_token="retry-me")
    again = services.sign(
        refreshed(agreement),
        user=consumer,
        password=PASSWORD,
        code="000000",
        seen_sha256="0" * 64,
        request_token="retry-me",
    )
    assert again.pk == first.pk
    assert agreement.revisions.count() == 2
    assert agreement.events.filter(kind=SigningEvent.Kind.SIGNED).count() == 1


@pytest.mark.parametrize(
    ("problem", "error"),
    [("wrong_code", "wrong"), ("expired_code", "expired"), ("wrong_password", "password"), ("no_code", "no_code")],
)
def test_a_bad_code_or_password_signs_nothing(
    agreement: Agreement, consumer: User, problem: str, error: str, django_capture_on_commit_callbacks: Capture
) -> None:
    from mediation.models import OneTimeCode

    latest = services.latest_revision(agreement)
    assert latest is not None
    code = "" if problem == "no_code" else request_code(agreement, consumer, django_capture_on_commit_callbacks)
    if problem == "expired_code":
        OneTimeCode.objects.update(expires_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(SigningError) as refused:
        services.sign(
            agreement,
            user=consumer,
            password="not my password" if problem == "wrong_password" else PASSWORD,
            code=f"{(int(code) + 1) % 10**6:06d}" if problem == "wrong_code" else code,
            seen_sha256=latest.sha256,
        )
    assert refused.value.code == error
    assert agreement.revisions.count() == 1
    assert agreement.slots.filter(status=SignatureSlot.Status.SIGNED).count() == 0
    if problem != "no_code":
        assert agreement.events.filter(kind=SigningEvent.Kind.CODE_FAILED, data__reason=error).exists()


def test_a_replayed_code_is_refused(
    agreement: Agreement, consumer: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Capture
) -> None:
    code = request_code(agreement, consumer, django_capture_on_commit_callbacks)
    latest = services.latest_revision(agreement)
    assert latest is not None
    real_sign_pdf = services.sign_pdf

    def failing(*args: Any, **kwargs: Any) -> bytes:
        raise OSError("TSA unreachable")

    monkeypatch.setattr(services, "sign_pdf", failing)
    with pytest.raises(OSError):
        services.sign(agreement, user=consumer, password=PASSWORD, code=code, seen_sha256=latest.sha256)
    monkeypatch.setattr(services, "sign_pdf", real_sign_pdf)
    with pytest.raises(SigningError) as replay:
        services.sign(agreement, user=consumer, password=PASSWORD, code=code, seen_sha256=latest.sha256)
    assert replay.value.code == "used"
    assert agreement.revisions.count() == 1


def test_a_document_the_signer_never_saw_is_refused(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with pytest.raises(SigningError) as refused:
        sign_as(agreement, consumer, django_capture_on_commit_callbacks, seen_sha256="f" * 64)
    assert refused.value.code == "unknown_document" and refused.value.field == "seen_sha256"


def test_declining_voids_the_signing_and_ends_mediation(
    agreement: Agreement,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    sign_as(agreement, bank_agent, django_capture_on_commit_callbacks)
    code = request_code(refreshed(agreement), consumer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(
            refreshed(agreement), user=consumer, password=PASSWORD, code=code, reason="分期期限太长，不能接受。"
        )
    agreement = refreshed(agreement)
    assert agreement.state == Agreement.State.VOID and "分期期限太长" in agreement.void_reason
    case = agreement.case
    assert case.state == CaseState.TERMINATED
    assert case.termination_reason == TerminationReason.REFUSED_TO_SIGN
    for person in (consumer, bank_agent, mediator, case_manager):
        assert Notification.objects.filter(recipient=person, kind="signing.agreement.declined").exists(), person
    with pytest.raises(SigningError) as after:
        sign_as(agreement, mediator, django_capture_on_commit_callbacks)
    assert after.value.code == "void"


def test_declining_needs_a_reason_and_a_party(
    agreement: Agreement, consumer: User, mediator: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with pytest.raises(SigningError) as no_reason:
        services.decline(agreement, user=consumer, password=PASSWORD, code="123456", reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(SigningError) as not_party:
        services.decline(agreement, user=mediator, password=PASSWORD, code="123456", reason="不同意")
    assert not_party.value.code == "not_party"
    assert refreshed(agreement).state == Agreement.State.SIGNING


@pytest.mark.django_db(transaction=True)
def test_two_parties_signing_at_the_same_moment_both_end_up_in_the_pdf(
    mediating_case: Case, mediator: User, consumer: User, bank_agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement = prepared_agreement(mediating_case, mediator)
    codes = {}
    for person in (consumer, bank_agent):
        services.request_code(agreement, user=person, origin=services.Origin())
        codes[person.pk] = last_code(person)
    base = services.latest_revision(agreement)
    assert base is not None
    # Both sign revision 0 before either stores: one must lose the race and sign again on top.
    barrier = threading.Barrier(2, timeout=30)
    real_sign_pdf = services.sign_pdf
    first_call: set[int] = set()

    def racing(*args: Any, **kwargs: Any) -> bytes:
        signed = real_sign_pdf(*args, **kwargs)
        ident = threading.get_ident()
        if ident not in first_call:
            first_call.add(ident)
            barrier.wait()
        return signed

    monkeypatch.setattr(services, "sign_pdf", racing)
    errors: list[BaseException] = []

    def run(person: User) -> None:
        try:
            services.sign(agreement, user=person, password=PASSWORD, code=codes[person.pk], seen_sha256=base.sha256)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in (consumer, bank_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    revisions = list(PdfRevision.objects.filter(agreement=agreement).order_by("number"))
    assert [r.number for r in revisions] == [0, 1, 2]
    assert {r.slot.field_name for r in revisions[1:] if r.slot} == {"consumer-1", "institution"}
    report = verify.verify_pdf(read_latest(agreement))
    assert report.ok, report.verdict
    assert sorted(s.field_name for s in report.signatures) == ["consumer-1", "institution"]
