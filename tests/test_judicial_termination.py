"""When mediation fails: the termination record (在线调解规则 Art 21) and the litigation-referral package.

Real PDFs (rendered, read back with ``pdftotext``, signatures checked with ``verify_pdf``) and real
packages, checked with ``openssl cms -verify`` and ``sha256sum -c`` from a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from judicial_link import package, termination
from judicial_link.models import ReferralPackage, TerminationRecord
from judicial_link.termination import TerminationError
from mediation import services
from mediation.models import Case, CaseState, LedgerEntry, Notification, TerminationReason, User
from sessions import record as records
from sessions import services as room_services
from signing import verify
from signing.evidence import Origin
from tests import factories
from tests.record_helpers import CAUCUS_BANK, CAUCUS_CONSUMER, JOINT_BANK, JOINT_CONSUMER, held_sitting
from tests.signing_helpers import PASSWORD, finalised_agreement, last_code
from tests.test_judicial_package import entries, flip_last_byte, openssl_verify, rezip, sha256sum_check, unzip

pytestmark = pytest.mark.django_db

ORIGIN = Origin(ip="203.0.113.9", user_agent="pytest")
UNDISPUTED = "申请人于2026年3月办理信用卡分期，被申请人已收取分期手续费1200元。"
COST_CONDUCT = "被申请人两次无正当理由未参加调解会谈。"
NOTE_FOR_COURT = "申请人年满七十周岁，请法院注意适老化安排。"
TERMINATION_NOTE = "双方对手续费是否已明确告知分歧较大，经两次调解仍无法达成一致。"


@pytest.fixture
def terminated_case(mediating_case: Case, consumer: User, mediator: User) -> Case:
    """A mediation that failed, with one evidence file uploaded while it ran."""
    services.add_evidence(
        mediating_case,
        user=consumer,
        upload=SimpleUploadedFile("分期合同.pdf", factories.sample_pdf_bytes("contract"), "application/pdf"),
    )
    return services.terminate_mediation(
        mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE, note=TERMINATION_NOTE
    )


def texts(case: Case, **changes: str) -> dict[str, str]:
    proposed = termination.proposed_text(case)
    proposed.update(undisputed_facts=UNDISPUTED, cost_increasing_conduct=COST_CONDUCT, notes_for_court=NOTE_FOR_COURT)
    proposed.update(changes)
    return proposed


def drafted(case: Case, mediator: User) -> TerminationRecord:
    return termination.save_draft(case, actor=mediator, texts=texts(case))


def code_for(case: Case, user: User, capture: Any) -> str:
    with capture(execute=True):
        termination.request_code(case, user=user)
    return last_code(user)


def sign(case: Case, user: User, capture: Any, *, wrong_code: bool = False, **overrides: Any) -> TerminationRecord:
    """Get a code and sign, like the record page; ``wrong_code`` types another code than the one sent."""
    record = termination.record_of(case)
    assert record is not None
    code = code_for(case, user, capture)
    if wrong_code:
        code = "000001" if code == "000000" else "000000"
    arguments: dict[str, Any] = {
        "user": user,
        "password": PASSWORD,
        "code": code,
        "seen_hash": termination.content_hash(record),
        "origin": ORIGIN,
    }
    arguments.update(overrides)
    with capture(execute=True):
        return termination.sign_record(case, **arguments)


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.split())  # CJK lines wrap anywhere: compare without white space


def squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.fixture
def signed_case(terminated_case: Case, mediator: User, django_capture_on_commit_callbacks: Any) -> Case:
    drafted(terminated_case, mediator)
    sign(terminated_case, mediator, django_capture_on_commit_callbacks)
    return terminated_case


# --- the draft ---------------------------------------------------------------------------------------


def test_no_record_before_mediation_has_ended(mediating_case: Case, mediator: User) -> None:
    with pytest.raises(TerminationError) as raised:
        termination.save_draft(mediating_case, actor=mediator, texts=texts(mediating_case))

    assert raised.value.code == "state"
    assert "调解中" in raised.value.message
    assert not TerminationRecord.objects.exists()


def test_the_draft_is_proposed_from_the_complaint_and_the_termination(terminated_case: Case) -> None:
    proposed = termination.proposed_text(terminated_case)

    assert "张三" in proposed["basic_facts"] and "华南商业银行" in proposed["basic_facts"]
    assert "12,000.00" in proposed["basic_facts"]
    assert terminated_case.description in proposed["basic_facts"]
    assert "维持原处理意见" in proposed["basic_facts"]  # the institution's answer
    assert proposed["failure_reasons"] == TERMINATION_NOTE


def test_only_the_mediator_of_the_case_drafts(terminated_case: Case, consumer: User, case_manager: User) -> None:
    for person in (consumer, case_manager):
        with pytest.raises(TerminationError) as raised:
            termination.save_draft(terminated_case, actor=person, texts=texts(terminated_case))
        assert raised.value.code == "not_drafter"
    assert not TerminationRecord.objects.exists()


def test_without_a_mediator_the_centre_records(
    transferred_case: Case, consumer: User, bank_agent: User, case_manager: User
) -> None:
    """Mediation refused by the institution: no mediator ever took the case, the centre records (Art 21)."""
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=False, reason="不同意调解")
    transferred_case.refresh_from_db()

    record = termination.save_draft(transferred_case, actor=case_manager, texts=texts(transferred_case))

    assert record.reason == TerminationReason.REFUSED
    assert termination.drafters(transferred_case) == [case_manager]


def test_required_items_and_length_are_checked_per_field(terminated_case: Case, mediator: User) -> None:
    with pytest.raises(TerminationError) as raised:
        termination.save_draft(terminated_case, actor=mediator, texts=texts(terminated_case, failure_reasons="  "))
    assert (raised.value.code, raised.value.field) == ("required", "failure_reasons")

    with pytest.raises(TerminationError) as raised:
        termination.save_draft(
            terminated_case, actor=mediator, texts=texts(terminated_case, notes_for_court="字" * 5001)
        )
    assert (raised.value.code, raised.value.field) == ("too_long", "notes_for_court")
    assert not TerminationRecord.objects.exists()


def test_the_record_renders_the_facts_in_chinese(terminated_case: Case, mediator: User, tmp_path: Path) -> None:
    record = drafted(terminated_case, mediator)

    text = pdftotext(termination.render_record(record), tmp_path)

    for expected in (
        "调解终结记录",
        terminated_case.number,
        "张三",
        "华南商业银行",
        UNDISPUTED,
        COST_CONDUCT,
        NOTE_FOR_COURT,
        TERMINATION_NOTE,
        "当事人分歧较大难以达成协议",
        "第二十一条",
        "吴调解员",
    ):
        assert squeeze(expected) in text, expected


def test_the_same_draft_renders_the_same_bytes(terminated_case: Case, mediator: User) -> None:
    """What the mediator previews is what is signed."""
    record = drafted(terminated_case, mediator)

    assert termination.render_record(record) == termination.render_record(TerminationRecord.objects.get(pk=record.pk))


# --- signing -----------------------------------------------------------------------------------------


def test_the_mediator_signs_and_the_centre_seals(
    terminated_case: Case,
    mediator: User,
    consumer: User,
    bank_agent: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    drafted(terminated_case, mediator)

    record = sign(terminated_case, mediator, django_capture_on_commit_callbacks)

    data = termination.read_signed(record)
    report = verify.verify_pdf(data)
    assert report.ok, report.verdict
    assert [s.field_name for s in report.signatures] == ["mediator", "centre-seal"]
    assert "吴调解员" in report.signatures[0].signer
    assert terminated_case.centre.name in report.signatures[1].organisation
    assert (record.signed_by, record.signed_sha256) == (mediator, hashlib.sha256(data).hexdigest())
    assert record.certificate_serial == report.signatures[0].serial
    entry = LedgerEntry.objects.get(action="judicial.termination.signed", case=terminated_case)
    assert entry.data["sha256"] == record.signed_sha256
    assert LedgerEntry.objects.filter(action="signing.document.signed", case=terminated_case).count() == 1
    for party in (consumer, bank_agent):
        assert Notification.objects.filter(recipient=party, kind="judicial.termination.signed").exists()


@pytest.mark.parametrize(("override", "field"), [({"password": "wrong"}, "password"), ({"wrong_code": True}, "code")])
def test_a_wrong_password_or_code_signs_nothing(
    terminated_case: Case,
    mediator: User,
    django_capture_on_commit_callbacks: Any,
    override: dict[str, Any],
    field: str,
) -> None:
    drafted(terminated_case, mediator)

    with pytest.raises(TerminationError) as raised:
        sign(terminated_case, mediator, django_capture_on_commit_callbacks, **override)

    assert raised.value.field == field
    record = TerminationRecord.objects.get(case=terminated_case)
    assert not record.is_signed and not record.signed_pdf
    assert not LedgerEntry.objects.filter(action="judicial.termination.signed").exists()
    assert LedgerEntry.objects.filter(action="signing.document.code_failed", case=terminated_case).exists()


def test_a_record_changed_after_reading_is_not_signed(
    terminated_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    record = drafted(terminated_case, mediator)
    seen = termination.content_hash(record)
    termination.save_draft(terminated_case, actor=mediator, texts=texts(terminated_case, undisputed_facts="改过了"))

    with pytest.raises(TerminationError) as raised:
        sign(terminated_case, mediator, django_capture_on_commit_callbacks, seen_hash=seen)

    assert raised.value.code == "changed"
    assert not TerminationRecord.objects.get(pk=record.pk).is_signed


def test_a_signed_record_cannot_be_edited_or_signed_again(
    signed_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    before = TerminationRecord.objects.get(case=signed_case)

    with pytest.raises(TerminationError) as raised:
        termination.save_draft(signed_case, actor=mediator, texts=texts(signed_case, failure_reasons="改写"))
    assert raised.value.code == "signed"
    with pytest.raises(TerminationError) as raised:
        termination.request_code(signed_case, user=mediator)
    assert raised.value.code == "signed"

    after = TerminationRecord.objects.get(case=signed_case)
    assert (after.failure_reasons, after.signed_sha256, after.updated_at) == (
        before.failure_reasons,
        before.signed_sha256,
        before.updated_at,
    )


# --- the referral package ----------------------------------------------------------------------------


def test_no_referral_before_the_record_is_signed(terminated_case: Case, mediator: User, consumer: User) -> None:
    with pytest.raises(TerminationError) as raised:
        termination.build_referral(terminated_case, actor=consumer)
    assert raised.value.code == "not_signed"

    drafted(terminated_case, mediator)
    with pytest.raises(TerminationError) as raised:
        termination.build_referral(terminated_case, actor=consumer)
    assert raised.value.code == "not_signed"
    with pytest.raises(package.PackageError) as refused:
        package.build_package(terminated_case, purpose="referral")
    assert refused.value.code == "no_termination_record"
    assert not ReferralPackage.objects.exists()


def test_an_outsider_cannot_build_a_referral(signed_case: Case, outsider: User) -> None:
    with pytest.raises(TerminationError) as raised:
        termination.build_referral(signed_case, actor=outsider)
    assert raised.value.code == "not_party"
    assert not ReferralPackage.objects.exists()


def _referral_bytes(referral: ReferralPackage) -> bytes:
    with referral.package.open("rb") as handle:
        data: bytes = handle.read()
    return data


def test_the_referral_package_is_verified_three_ways(
    signed_case: Case, consumer: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        referral = termination.build_referral(signed_case, actor=consumer)
    data = _referral_bytes(referral)
    assert hashlib.sha256(data).hexdigest() == referral.package_sha256

    report = package.verify_package(data)
    assert report.ok, [(p.code, p.path) for p in report.problems]
    assert report.purpose == "referral"
    pdf = next(check.pdf for check in report.files if check.path == "termination/termination-record.pdf")
    assert pdf is not None and pdf.ok and len(pdf.signatures) == 2

    (tmp_path / "referral.zip").write_bytes(data)
    out = StringIO()
    call_command("verify_package", str(tmp_path / "referral.zip"), "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"] is True

    directory = unzip(data, tmp_path)
    result = openssl_verify(directory)
    assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    sums = sha256sum_check(directory)
    assert sums.returncode == 0, sums.stdout
    assert "termination/termination-record.pdf: OK" in sums.stdout

    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["purpose"] == "referral" and manifest["court"] is None
    assert {entry["doc_type"] for entry in manifest["files"]} == {
        "termination_record",
        "complaint",
        "institution_answer",
        "evidence",
        "ledger_excerpt",
        "parties",
    }
    complaint = json.loads((directory / "complaint" / "complaint.json").read_text())
    assert complaint["description"] == signed_case.description
    assert LedgerEntry.objects.filter(action="judicial.referral.built", case=signed_case).count() == 1
    assert Notification.objects.filter(recipient=consumer, kind="judicial.referral.built").exists()


def test_building_again_returns_the_stored_package(signed_case: Case, consumer: User, mediator: User) -> None:
    first = termination.build_referral(signed_case, actor=consumer)
    again = termination.build_referral(signed_case, actor=mediator)

    assert again.pk == first.pk and again.package_sha256 == first.package_sha256
    assert ReferralPackage.objects.count() == 1


def test_one_flipped_byte_of_the_record_is_caught(signed_case: Case, consumer: User, tmp_path: Path) -> None:
    data = _referral_bytes(termination.build_referral(signed_case, actor=consumer))
    path = "termination/termination-record.pdf"
    tampered = rezip(data, lambda files: {**files, path: flip_last_byte(files[path])})

    sums = sha256sum_check(unzip(tampered, tmp_path))
    assert sums.returncode == 1 and f"{path}: FAILED" in sums.stdout
    report = package.verify_package(tampered)
    assert not report.ok
    assert ("file_changed", path) in [(p.code, p.path) for p in report.problems]


def test_nothing_said_to_reach_agreement_goes_to_court(
    mediating_case: Case, consumer: User, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    """在线调解规则 Art 18: the agreement drafts (the concessions) stay out; sources are a closed list."""
    agreement = finalised_agreement(mediating_case, mediator)
    draft = agreement.final_version
    assert draft is not None
    case = services.terminate_mediation(mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    drafted(case, mediator)
    sign(case, mediator, django_capture_on_commit_callbacks)

    data = _referral_bytes(termination.build_referral(case, actor=consumer))

    assert [source.__name__ for source in package.SOURCES["referral"]] == [
        "termination_record_document",
        "mediation_record_documents",
        "complaint_documents",
        "evidence_documents",
        "ledger_document",
        "parties_document",
    ]
    unpacked = entries(data)
    assert not any(path.startswith("agreement/") for path in unpacked)
    concessions = [draft.facts, draft.dispute, "免除逾期利息", "银行分两期转账至申请人本人账户"]
    for text in concessions:
        assert all(text.encode() not in blob for blob in unpacked.values()), text


def test_nothing_said_in_a_private_caucus_reaches_the_referral(
    signed_case: Case, consumer: User, bank_agent: User, mediator: User, tmp_path: Path
) -> None:
    """在线调解规则 Art 18, against real caucus messages: not in any entry, nor in any PDF's text."""
    said = ["我私下可以接受七千元，别告诉银行。", "本行内部审批上限为一万五千元。", "调解员私下提醒：对方底线偏低。"]
    rooms = {room.side: room for room in room_services.rooms_for_case(signed_case)}
    room_services.post_message(rooms[f"consumer:{consumer.pk}"], author=consumer, body=said[0])
    room_services.post_message(rooms["institution"], author=bank_agent, body=said[1])
    room_services.post_message(rooms[f"consumer:{consumer.pk}"], author=mediator, body=said[2])

    unpacked = entries(_referral_bytes(termination.build_referral(signed_case, actor=consumer)))

    readable = list(unpacked.values())
    readable += [pdftotext(data, tmp_path).encode() for path, data in unpacked.items() if path.endswith(".pdf")]
    for text in said:
        for fragment in (text, text[:8], text[-8:]):
            assert all(fragment.encode() not in blob for blob in readable), fragment


def test_the_sittings_confirmed_records_go_to_court_and_their_caucuses_do_not(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The court deciding the dispute gets each sitting's sealed 调解笔录 (Art 22), never a caucus (Art 18)."""
    held = held_sitting(mediating_case, consumer=consumer, bank_agent=bank_agent, mediator=mediator)
    records.save_record(
        held.session,
        actor=mediator,
        undisputed_facts=UNDISPUTED,
        outcome="no_agreement",
        outcome_text=TERMINATION_NOTE,
        statements=[held.joint_consumer.pk, held.joint_bank.pk],
    )
    record = records.finalise(held.session, actor=mediator)
    records.confirm(record, user=consumer, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        records.confirm(record, user=bank_agent, password=PASSWORD)
    record.refresh_from_db()
    assert record.is_sealed
    case = services.terminate_mediation(mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    drafted(case, mediator)
    sign(case, mediator, django_capture_on_commit_callbacks)

    data = _referral_bytes(termination.build_referral(case, actor=consumer))

    unpacked = entries(data)
    assert unpacked["sessions/mediation-record-01.pdf"] == record.pdf.open("rb").read()
    manifest = json.loads(unpacked["manifest.json"])
    listed = {item["path"]: item for item in manifest["files"]}
    assert listed["sessions/mediation-record-01.pdf"]["doc_type"] == "mediation_record"
    report = package.verify_package(data)
    assert report.ok, report.problems
    text = pdftotext(unpacked["sessions/mediation-record-01.pdf"], tmp_path)
    assert squeeze(JOINT_CONSUMER) in text and squeeze(JOINT_BANK) in text
    readable = list(unpacked.values())
    readable += [pdftotext(blob, tmp_path).encode() for path, blob in unpacked.items() if path.endswith(".pdf")]
    for said in (CAUCUS_CONSUMER, CAUCUS_BANK):
        for fragment in (said, said[:8], said[-8:]):
            assert all(fragment.encode() not in blob for blob in readable), fragment


# --- the demo ----------------------------------------------------------------------------------------


def test_the_demo_terminated_case_has_a_signed_record_and_a_verifiable_referral() -> None:
    call_command("load_demo", stdout=StringIO())

    case = Case.objects.get(state=CaseState.TERMINATED)
    record = TerminationRecord.objects.get(case=case)
    report = verify.verify_pdf(termination.read_signed(record))
    assert report.ok, report.verdict
    assert [s.field_name for s in report.signatures] == ["mediator", "centre-seal"]
    assert record.signed_by == User.objects.get(username="demo_mediator")
    assert LedgerEntry.objects.get(action="judicial.termination.signed", case=case).data["verification"] == "demo-data"
    assert package.verify_package(_referral_bytes(ReferralPackage.objects.get(case=case))).ok
