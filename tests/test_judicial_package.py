"""The court package: contents, manifest, detached CMS signature, and tampering caught by plain tools.

The package is checked the way a court clerk would: unzipped with ``unzip``, the manifest signature
with ``openssl cms -verify``, the files with ``sha256sum -c`` (all real subprocesses), and with
our own ``verify_package``.

Building a fully signed agreement takes a few seconds, so one case is built, signed and packaged
once per module inside a transaction that is rolled back afterwards (``packaged_signed_case``);
the tests work on copies of the resulting bytes.
"""

from __future__ import annotations

import io
import json
import re
import stat
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone
from PIL import Image

from judicial_link import package
from judicial_link.package import BuiltPackage, PackageError, PackageFile, PackageUnreadableError
from mediation import services
from mediation.models import Case, Evidence, Organisation, Role, User
from sessions import record as records
from sessions import services as room_services
from sessions.models import Attendance, MediationSession, Message, Room
from signing import pki, verify
from tests import factories
from tests import pdf_fixtures as pdfs
from tests.record_helpers import attend
from tests.signing_helpers import PASSWORD, prepared_agreement, read_latest, sign_as

# Verifying reads the CA's revocation list from the database.
pytestmark = pytest.mark.django_db

CONTENT_PATHS = [
    "agreement/agreement-signed.pdf",
    "agreement/signing-report.pdf",
    "agreement/presiding-proof.pdf",
    "sessions/mediation-record-01.pdf",
    "evidence/001.pdf",
    "evidence/002.png",
    "evidence/003.txt",
    "ledger/ledger-excerpt.json",
    "parties.json",
]
ALL_PATHS = sorted(
    [*CONTENT_PATHS, "SHA256SUMS", "ca/issuing.crt", "ca/root.crt", "manifest.json", "manifest.json.p7s"]
)
EVIDENCE_NAMES = ["信用卡分期合同.pdf", "手机银行截图.png", "客服通话记录.txt"]
# Built at a different time from the same inputs: these entries carry the time of building.
TIME_DEPENDENT = {
    "manifest.json",
    "manifest.json.p7s",
    "SHA256SUMS",
    "agreement/signing-report.pdf",
    "agreement/presiding-proof.pdf",
}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Packaged:
    """What is left of the module's case once its transaction is rolled back: plain values and bytes."""

    built: BuiltPackage
    again: BuiltPackage  # the same case packaged a second time
    with_broken_pdf: BuiltPackage  # an extra signed PDF altered after signing
    case_number: str
    agreement_code: str
    consumer_id_number: str
    consumer_id_masked: str
    consumer_phone: str
    institution_credit_code: str
    centre_name: str
    court_name: str
    due_date: str
    root_pem: bytes
    session_texts: list[str]  # every unreleased caucus message at packaging time


JOINT_STATEMENT = "我在联合调解室说：分期手续费未向我说明。"
CAUCUS_TEXTS = [
    "私下说，我最低可以接受退还八千三百元。",
    "调解员建议：先不要向银行透露这个底线。",
    "行方内部授权上限为一万二千元整。",
]


def _session_texts() -> list[str]:
    """Every message said in a private caucus and not released by its author."""
    caucus = Message.objects.filter(room__kind=Room.Kind.CAUCUS, released_at__isnull=True)
    return list(caucus.values_list("body", flat=True))


@pytest.fixture(scope="module")
def packaged(django_db_setup: None, django_db_blocker: Any, _pki_dir: Path, tmp_path_factory: Any) -> Packaged:
    return packaged_signed_case(django_db_blocker, _pki_dir, tmp_path_factory.mktemp("uploads"))


def packaged_signed_case(django_db_blocker: Any, pki_dir: Path, uploads: Path) -> Packaged:
    """A case with three evidence files and a fully signed agreement, packaged three ways; rolled back.

    The settings mirror tests/conftest.py ``_isolated_var`` (a module fixture runs before it).
    """
    storages = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(uploads)}},
    }
    with (
        override_settings(
            SIGNING_PKI_DIR=pki_dir,
            STORAGES=storages,
            SMS_BACKEND="mediation.notifications.MemorySmsBackend",
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        result = _build_everything()
        transaction.set_rollback(True)
    return result


def _build_everything() -> Packaged:
    centre = factories.organisation(Organisation.Kind.CENTRE, "广东金融消费纠纷调解中心", region="广东省广州市")
    bank = factories.organisation(
        Organisation.Kind.INSTITUTION, "华南商业银行", region="广东省广州市", address="广州市天河区珠江新城1号"
    )
    court = factories.organisation(
        Organisation.Kind.COURT, "广州市天河区人民法院", court_level=Organisation.CourtLevel.BASIC, court_code="J0106"
    )
    consumer = factories.user("consumer", Role.CONSUMER, real_name="张三")
    bank_agent = factories.user("bank_agent", Role.INSTITUTION_AGENT, bank, real_name="赵经理")
    mediator = factories.pool_mediator("mediator", centre, real_name="吴调解员")
    case_manager = factories.user("case_manager", Role.CASE_MANAGER, centre, real_name="冯主任", is_staff=True)

    case = factories.complaint(consumer, bank, centre)
    services.accept_case(case, actor=case_manager)
    services.transfer_to_institution(case, actor=case_manager)
    services.answer_complaint(case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(case, consumer=consumer)
    services.record_institution_consent(case, agent=bank_agent, consent=True)
    services.assign_mediator(case, actor=case_manager, mediator=mediator)
    case = factories.accept_assignment(case, mediator=mediator)
    uploads = [
        (EVIDENCE_NAMES[0], factories.sample_pdf_bytes("contract"), "application/pdf"),
        (EVIDENCE_NAMES[1], png_bytes(), "image/png"),
        (EVIDENCE_NAMES[2], "2026年9月12日 客服：您的延期申请已登记。\n".encode(), "text/plain"),
    ]
    for name, content, content_type in uploads:
        services.add_evidence(case, user=consumer, upload=SimpleUploadedFile(name, content, content_type=content_type))

    # A sitting. What each side tells the mediator in its private caucus (背对背): never in a
    # package (Art 18), not even through the sitting's mediation record.
    sitting = MediationSession.objects.create(
        case=case,
        number=1,
        state=MediationSession.State.OPEN,
        scheduled_start=timezone.now(),
        scheduled_end=timezone.now(),
        opened_at=timezone.now(),
        recording_consent=False,
        created_by=mediator,
    )
    for person, role in (
        (consumer, Attendance.Role.CONSUMER),
        (bank_agent, Attendance.Role.INSTITUTION),
        (mediator, Attendance.Role.MEDIATOR),
    ):
        attend(sitting, person, role, sitting.opened_at)
    rooms = {room.side: room for room in room_services.rooms_for_case(case)}
    said = [
        room_services.post_message(rooms[f"consumer:{consumer.pk}"], author=consumer, body=CAUCUS_TEXTS[0]),
        room_services.post_message(rooms[f"consumer:{consumer.pk}"], author=mediator, body=CAUCUS_TEXTS[1]),
        room_services.post_message(rooms["institution"], author=bank_agent, body=CAUCUS_TEXTS[2]),
    ]
    joint = room_services.post_message(rooms[""], author=consumer, body=JOINT_STATEMENT)
    MediationSession.objects.filter(pk=sitting.pk).update(state=MediationSession.State.CLOSED, closed_at=timezone.now())
    records.save_record(
        sitting,
        actor=mediator,
        undisputed_facts="投诉人办理了信用卡分期。",
        outcome="agreement",
        outcome_text="",
        statements=[joint.pk],
    )
    for message in said:
        with pytest.raises(records.RecordError):
            records.select_statement(sitting, message, actor=mediator)
    record = records.finalise(sitting, actor=mediator)
    records.confirm(record, user=consumer, password=PASSWORD)
    with TestCase.captureOnCommitCallbacks(execute=True):
        records.confirm(record, user=bank_agent, password=PASSWORD)

    agreement = prepared_agreement(case, mediator)
    for person in (consumer, bank_agent, mediator, case_manager):
        agreement.refresh_from_db()
        sign_as(agreement, person, TestCase.captureOnCommitCallbacks)
    agreement.refresh_from_db()
    case.refresh_from_db()

    built = package.build_package(case, court=court)
    again = package.build_package(case, court=court)
    altered_form = PackageFile(
        "application/application-form.pdf",
        "application_form",
        "司法确认申请书",
        pdfs.rotate_page_after_signing(read_latest(agreement)),
    )
    with_broken_pdf = package.build_package(case, court=court, extra_files=[altered_form])
    return Packaged(
        built=built,
        again=again,
        with_broken_pdf=with_broken_pdf,
        case_number=case.number,
        agreement_code=agreement.short_code,
        consumer_id_number=consumer.reveal_id_number(),
        consumer_id_masked=consumer.id_number_masked,
        consumer_phone=str(consumer.phone),
        institution_credit_code=bank.credit_code or "",
        centre_name=centre.name,
        court_name=court.name,
        due_date=case.deadlines.get(kind="judicial_confirmation").due_date.isoformat(),
        root_pem=pki.authority().root.public_bytes(serialization.Encoding.PEM),
        session_texts=_session_texts(),
    )


# --- helpers -----------------------------------------------------------------------------------------


def entries(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(zip_bytes: bytes, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> bytes:
    """The package with its entries changed as ``change`` returns them (names taken literally)."""
    changed = change(entries(zip_bytes))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in changed.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=package.ZIP_DATE_TIME), data)
    return buffer.getvalue()


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def unzip(zip_bytes: bytes, directory: Path) -> Path:
    """Unpacked with the ``unzip`` a clerk would use."""
    archive = directory / "package.zip"
    archive.write_bytes(zip_bytes)
    target = directory / "unpacked"
    subprocess.run(["unzip", "-q", str(archive), "-d", str(target)], check=True, capture_output=True)
    return target


OPENSSL_VERIFY = [
    "openssl",
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-in",
    "manifest.json.p7s",
    "-content",
    "manifest.json",
    "-out",
    "/dev/null",
]


def openssl_verify(directory: Path, ca_file: str = "ca/root.crt") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPENSSL_VERIFY, "-CAfile", ca_file],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def sha256sum_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=directory, capture_output=True, text=True, check=False)


def codes(report: package.PackageReport) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in report.problems]


def resign(zip_bytes: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """Replace manifest.json.p7s by ``sign(manifest bytes)`` and fix SHA256SUMS, as a forger would."""

    def change(files: dict[str, bytes]) -> dict[str, bytes]:
        files["manifest.json.p7s"] = sign(files["manifest.json"])
        files["SHA256SUMS"] = package._checksums({k: v for k, v in files.items() if k != "SHA256SUMS"})
        return files

    return rezip(zip_bytes, change)


def sign_with(certificate: Any, key: Any, *chain: Any) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(certificate, key, hashes.SHA256())
        for extra in chain:
            builder = builder.add_certificate(extra)
        return builder.sign(
            serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
        )

    return sign


# --- what is in it -------------------------------------------------------------------------------------


def test_package_holds_the_agreement_report_evidence_ledger_and_parties(packaged: Packaged) -> None:
    with zipfile.ZipFile(io.BytesIO(packaged.built.zip_bytes)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ALL_PATHS
    assert {info.date_time for info in infos} == {package.ZIP_DATE_TIME}
    stored = {info.filename for info in infos if info.compress_type == zipfile.ZIP_STORED}
    assert stored == {p for p in ALL_PATHS if p.endswith((".pdf", ".png", ".p7s"))}

    manifest = json.loads(entries(packaged.built.zip_bytes)["manifest.json"])
    assert manifest == packaged.built.manifest
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert sorted(listed) == sorted(CONTENT_PATHS)
    assert {path: entry["doc_type"] for path, entry in listed.items()} == {
        "agreement/agreement-signed.pdf": "agreement",
        "agreement/signing-report.pdf": "signing_report",
        "agreement/presiding-proof.pdf": "presiding_proof",
        "sessions/mediation-record-01.pdf": "mediation_record",
        "evidence/001.pdf": "evidence",
        "evidence/002.png": "evidence",
        "evidence/003.txt": "evidence",
        "ledger/ledger-excerpt.json": "ledger_excerpt",
        "parties.json": "parties",
    }
    # The uploader's names are kept in the manifest only; the paths are index + the detected type.
    assert [listed[f"evidence/00{n}.{ext}"]["original_name"] for n, ext in ((1, "pdf"), (2, "png"), (3, "txt"))] == (
        EVIDENCE_NAMES
    )
    assert listed["agreement/agreement-signed.pdf"]["title"] == "调解协议书（已签署）"
    assert listed["evidence/002.png"]["title"] == "证据材料 2"
    assert [path for path, entry in listed.items() if entry["signed_pdf"]] == [
        "agreement/agreement-signed.pdf",
        "agreement/signing-report.pdf",
        "agreement/presiding-proof.pdf",
        "sessions/mediation-record-01.pdf",
    ]

    files = entries(packaged.built.zip_bytes)
    for path, entry in listed.items():
        assert entry["size"] == len(files[path])
        assert entry["sha256"] == package.hashlib.sha256(files[path]).hexdigest()
        assert entry["sm3"] == package.sm3_hex(files[path])


def test_manifest_states_the_case_facts_with_masked_ids(packaged: Packaged) -> None:
    manifest = packaged.built.manifest

    assert manifest["format"] == "fengqiao-court-package" and manifest["generator"] == package.GENERATOR
    assert manifest["purpose"] == "confirmation" and manifest["purpose_label"] == "司法确认申请"
    assert manifest["case"]["number"] == packaged.case_number
    assert manifest["case"]["agreement_code"] == packaged.agreement_code
    assert manifest["case"]["judicial_confirmation_due"] == packaged.due_date
    assert manifest["case"]["agreement_effective_at"] is not None
    assert manifest["parties"]["consumers"] == [{"name": "张三", "id_number_masked": packaged.consumer_id_masked}]
    assert manifest["parties"]["institution"]["credit_code"] == packaged.institution_credit_code
    assert manifest["centre"]["name"] == packaged.centre_name
    assert manifest["court"] == {
        "name": packaged.court_name,
        "court_code": "J0106",
        "court_level": "basic",
        "region": "",
    }
    assert manifest["mediators"] == ["吴调解员"]
    # Canonical JSON: exactly what json.dumps(sorted, not ASCII-escaped) writes, so the signed bytes are reproducible.
    raw = entries(packaged.built.zip_bytes)["manifest.json"]
    assert raw == (json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def test_parties_and_ledger_files_carry_addresses_phones_and_the_hash_chain(packaged: Packaged) -> None:
    files = entries(packaged.built.zip_bytes)
    parties = json.loads(files["parties.json"])
    assert parties["consumers"][0]["phone"] == packaged.consumer_phone
    assert parties["consumers"][0]["id_number_masked"] == packaged.consumer_id_masked
    assert parties["consumer_service_address"] == "consumer@example.cn"
    assert parties["institution"]["address"] == "广州市天河区珠江新城1号"
    assert [agent["name"] for agent in parties["institution"]["agents"]] == ["赵经理"]

    ledger = json.loads(files["ledger/ledger-excerpt.json"])
    assert ledger["case_number"] == packaged.case_number
    actions = [entry["action"] for entry in ledger["entries"]]
    assert "mediation.evidence.uploaded" in actions and "mediation.case.agreement_effective" in actions
    for entry in ledger["entries"]:
        assert re.fullmatch(r"[0-9a-f]{64}", entry["entry_hash"]) and re.fullmatch(r"[0-9a-f]{64}", entry["prev_hash"])
    assert [e["seq"] for e in ledger["entries"]] == sorted(e["seq"] for e in ledger["entries"])


def test_the_full_id_number_is_nowhere_in_the_package(packaged: Packaged, tmp_path: Path) -> None:
    full = packaged.consumer_id_number
    assert full and packaged.consumer_id_masked and full != packaged.consumer_id_masked
    blobs = [packaged.built.zip_bytes, *entries(packaged.built.zip_bytes).values()]
    for blob in blobs:
        assert full.encode() not in blob
        assert full.encode("utf-16-be") not in blob
    # The PDFs' text (content streams are compressed and glyph-encoded, so read them as a person would).
    for path in ("agreement/agreement-signed.pdf", "agreement/signing-report.pdf", "agreement/presiding-proof.pdf"):
        pdf = tmp_path / path.replace("/", "_")
        pdf.write_bytes(entries(packaged.built.zip_bytes)[path])
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert full not in text.replace(" ", "")
    # The agreement's embedded machine-readable copy (PDF/A-3 attachment) as well.
    attachments = tmp_path / "attachments"
    attachments.mkdir()
    subprocess.run(
        ["pdfdetach", "-saveall", "-o", str(attachments), str(tmp_path / "agreement_agreement-signed.pdf")], check=True
    )
    attached = [path.read_bytes() for path in attachments.iterdir()]
    assert attached and packaged.consumer_id_masked.encode() in b"".join(attached)
    assert all(full.encode() not in blob for blob in attached)
    agreement_text = subprocess.run(
        ["pdftotext", str(tmp_path / "agreement_agreement-signed.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert packaged.consumer_id_masked in agreement_text.replace(" ", "")


def test_the_presiding_proof_names_the_centre_and_mediator_and_carries_the_centre_seal(
    packaged: Packaged, tmp_path: Path
) -> None:
    """司法确认程序规定 Art 3: proof that the mediation organisation presided, sealed by it."""
    proof = entries(packaged.built.zip_bytes)["agreement/presiding-proof.pdf"]
    pdf = tmp_path / "presiding-proof.pdf"
    pdf.write_bytes(proof)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = text.replace(" ", "").replace("\n", "")
    assert "调解组织主持调解证明" in flat
    assert packaged.case_number in flat
    assert "吴调解员" in flat and "张三" in flat
    assert f"由{packaged.centre_name}依法主持调解" in flat
    report = verify.verify_pdf(proof)
    assert report.ok, report.verdict
    assert [check.signer for check in report.signatures] == [f"{packaged.centre_name}电子印章"]


def test_files_come_only_from_the_whitelisted_sources(packaged: Packaged) -> None:
    """在线调解规则 Art 18: nothing from a private caucus room; the sources are a closed list."""
    assert [source.__name__ for source in package.SOURCES["confirmation"]] == [
        "agreement_document",
        "signing_report_document",
        "presiding_document",
        "mediation_record_documents",
        "evidence_documents",
        "ledger_document",
        "parties_document",
    ]
    allowed = re.compile(
        r"agreement/(agreement-signed|signing-report|presiding-proof)\.pdf|sessions/mediation-record-\d{2}\.pdf"
        r"|evidence/\d{3}\.\w+|ledger/ledger-excerpt\.json|parties\.json"
    )
    for entry in packaged.built.manifest["files"]:
        assert allowed.fullmatch(entry["path"]), entry["path"]
        assert entry["doc_type"] in {
            "agreement",
            "signing_report",
            "presiding_proof",
            "mediation_record",
            "evidence",
            "ledger_excerpt",
            "parties",
        }
    assert [p.path for p in packaged.built.files] == [e["path"] for e in packaged.built.manifest["files"]]


def test_nothing_said_in_a_private_caucus_reaches_the_package(packaged: Packaged, tmp_path: Path) -> None:
    """在线调解规则 Art 18, against real caucus messages: not in the ZIP, any entry, or any PDF's text."""
    assert sorted(packaged.session_texts) == sorted(CAUCUS_TEXTS)
    files = entries(packaged.built.zip_bytes)
    # The sitting's mediation record is in the package, with its joint-room statement only.
    assert "sessions/mediation-record-01.pdf" in files
    readable = [packaged.built.zip_bytes, *files.values()]
    for path, content in files.items():
        if path.endswith(".pdf"):
            pdf = tmp_path / path.replace("/", "_")
            pdf.write_bytes(content)
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
            readable.append("".join(text.split()).encode())
            if path == "sessions/mediation-record-01.pdf":
                assert JOINT_STATEMENT in "".join(text.split())
    for said in packaged.session_texts:
        for fragment in (said, said[:8], said[-8:]):
            assert all(fragment.encode() not in blob for blob in readable), fragment
            assert all(fragment.encode("utf-16-be") not in blob for blob in readable), fragment


def test_same_inputs_give_the_same_zip_apart_from_what_carries_the_build_time(packaged: Packaged) -> None:
    first, second = entries(packaged.built.zip_bytes), entries(packaged.again.zip_bytes)
    assert list(first) == list(second)
    for name in first:
        if name not in TIME_DEPENDENT:
            assert first[name] == second[name], name

    def without_time(manifest: dict[str, Any]) -> dict[str, Any]:
        files = [f for f in manifest["files"] if f["path"] not in TIME_DEPENDENT]
        return {**manifest, "created_at": None, "files": files}

    assert without_time(packaged.built.manifest) == without_time(packaged.again.manifest)
    assert packaged.built.manifest["created_at"] != packaged.again.manifest["created_at"]


# --- a court's plain tools -----------------------------------------------------------------------------


def test_openssl_and_sha256sum_accept_the_unzipped_package(packaged: Packaged, tmp_path: Path) -> None:
    directory = unzip(packaged.built.zip_bytes, tmp_path)
    (tmp_path / "root-out-of-band.crt").write_bytes(packaged.root_pem)

    for ca_file in ("ca/root.crt", str(tmp_path / "root-out-of-band.crt")):
        result = openssl_verify(directory, ca_file)
        assert result.returncode == 0, result.stderr
        assert "Verification successful" in result.stderr
    sums = sha256sum_check(directory)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert sums.stdout.count(": OK") == len(ALL_PATHS) - 1
    # The files against the signed manifest itself (SHA256SUMS is a convenience and unsigned).
    listed = subprocess.run(
        ["jq", "-r", r'.files[] | "\(.sha256)  \(.path)"', "manifest.json"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    against_manifest = subprocess.run(
        ["sha256sum", "-c", "-"], cwd=directory, input=listed, capture_output=True, text=True, check=False
    )
    assert against_manifest.returncode == 0, against_manifest.stdout
    assert against_manifest.stdout.count(": OK") == len(CONTENT_PATHS)

    # Who signed: the verified signer's certificate, written out by openssl itself.
    subprocess.run([*OPENSSL_VERIFY, "-CAfile", "ca/root.crt", "-signer", "signer.pem"], cwd=directory, check=True)
    subject = subprocess.run(
        ["openssl", "x509", "-in", "signer.pem", "-noout", "-subject", "-nameopt", "utf8"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "O=广东金融消费纠纷调解中心," in subject and "CN=广东金融消费纠纷调解中心电子印章" in subject


def test_our_verifier_accepts_the_package_as_built(packaged: Packaged) -> None:
    report = package.verify_package(packaged.built.zip_bytes)

    assert report.ok, codes(report)
    assert report.case_number == packaged.case_number
    assert report.signer == "广东金融消费纠纷调解中心电子印章"
    assert report.signed_at is not None
    assert [check.path for check in report.files] == [e["path"] for e in packaged.built.manifest["files"]]
    assert all(check.ok for check in report.files)
    pdf_reports = {check.path: check.pdf for check in report.files if check.pdf is not None}
    assert set(pdf_reports) == {
        "agreement/agreement-signed.pdf",
        "agreement/signing-report.pdf",
        "agreement/presiding-proof.pdf",
        "sessions/mediation-record-01.pdf",
    }
    assert len(pdf_reports["agreement/agreement-signed.pdf"].signatures) == 4  # type: ignore[union-attr]
    assert all(pdf.ok for pdf in pdf_reports.values() if pdf is not None)
    body = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert body["ok"] is True and body["files"][0]["pdf"]["ok"] is True


@pytest.mark.parametrize("path", CONTENT_PATHS)
def test_tampering_any_file_fails_sha256sum_and_is_named(packaged: Packaged, tmp_path: Path, path: str) -> None:
    tampered = rezip(packaged.built.zip_bytes, lambda files: {**files, path: flip_last_byte(files[path])})

    sums = sha256sum_check(unzip(tampered, tmp_path))
    assert sums.returncode == 1
    assert f"{path}: FAILED" in sums.stdout

    report = package.verify_package(tampered, trust_root_pem=packaged.root_pem)
    assert not report.ok
    assert ("file_changed", path) in codes(report)
    assert [check.path for check in report.files if not check.ok] == [path]
    assert path in next(p.message for p in report.problems if p.code == "file_changed")


def test_tampered_manifest_fails_openssl_and_verify_package(packaged: Packaged, tmp_path: Path) -> None:
    """The forger changes evidence, then the manifest and SHA256SUMS to match: only the signature stops it."""
    forged_evidence = factories.sample_pdf_bytes("forged")

    def forge(files: dict[str, bytes]) -> dict[str, bytes]:
        manifest = json.loads(files["manifest.json"])
        entry = next(e for e in manifest["files"] if e["path"] == "evidence/001.pdf")
        entry.update(
            size=len(forged_evidence),
            sha256=package.hashlib.sha256(forged_evidence).hexdigest(),
            sm3=package.sm3_hex(forged_evidence),
        )
        files["evidence/001.pdf"] = forged_evidence
        files["manifest.json"] = package._json_bytes(manifest)
        files["SHA256SUMS"] = package._checksums({k: v for k, v in files.items() if k != "SHA256SUMS"})
        return files

    forged = rezip(packaged.built.zip_bytes, forge)
    directory = unzip(forged, tmp_path)

    assert sha256sum_check(directory).returncode == 0  # the unsigned checksums alone prove nothing
    result = openssl_verify(directory)
    assert result.returncode != 0
    assert "Verification failure" in result.stderr
    report = package.verify_package(forged)
    assert codes(report) == [("signature_invalid", "manifest.json")]


def test_signature_of_another_ca_fails_openssl_and_verify_package(packaged: Packaged, tmp_path: Path) -> None:
    """A look-alike seal (same names) from a CA of the forger's own."""
    test_pki = pdfs.test_pki()
    look_alike = test_pki.signers["centre-seal"]
    forged = resign(
        packaged.built.zip_bytes,
        sign_with(look_alike.certificate, look_alike.private_key, test_pki.issuing.certificate),
    )

    result = openssl_verify(unzip(forged, tmp_path))
    assert result.returncode != 0
    assert "Verification failure" in result.stderr
    report = package.verify_package(forged)
    assert ("signature_untrusted", "manifest.json.p7s") in codes(report)


def test_signature_by_another_seal_of_our_ca_is_not_the_centres(packaged: Packaged, bank: Organisation) -> None:
    """openssl only proves the chain; our verifier also checks that the manifest's centre signed."""
    forged = resign(packaged.built.zip_bytes, lambda manifest: package.sign_manifest(manifest, bank))

    report = package.verify_package(forged)

    assert codes(report) == [("signer_not_centre", "manifest.json.p7s")]
    assert "华南商业银行" in report.problems[0].message


def test_damaged_or_missing_signature_is_reported(packaged: Packaged, tmp_path: Path) -> None:
    damaged = rezip(
        packaged.built.zip_bytes,
        lambda files: {**files, "manifest.json.p7s": files["manifest.json.p7s"][:200]},
    )
    assert openssl_verify(unzip(damaged, tmp_path)).returncode != 0
    assert ("signature_unreadable", "manifest.json.p7s") in codes(package.verify_package(damaged))

    missing = rezip(
        packaged.built.zip_bytes, lambda files: {k: v for k, v in files.items() if k != "manifest.json.p7s"}
    )
    assert ("signature_missing", "manifest.json.p7s") in codes(package.verify_package(missing))


def test_extra_and_missing_files_are_reported(packaged: Packaged) -> None:
    def change(files: dict[str, bytes]) -> dict[str, bytes]:
        files = {k: v for k, v in files.items() if k != "evidence/002.png"}
        files["evidence/004.pdf"] = factories.sample_pdf_bytes("slipped in")
        files["ca/other.crt"] = b"not ours"
        return files

    report = package.verify_package(rezip(packaged.built.zip_bytes, change))

    found = codes(report)
    assert ("file_missing", "evidence/002.png") in found
    assert ("unlisted_file", "evidence/004.pdf") in found
    assert ("unlisted_file", "ca/other.crt") in found
    assert ("checksums_mismatch", "evidence/002.png") in found  # sha256sum -c would fail as well
    assert [c.path for c in report.files if not c.ok] == ["evidence/002.png"]


def test_zip_slip_entries_are_reported_not_extracted(packaged: Packaged, tmp_path: Path) -> None:
    hostile = rezip(
        packaged.built.zip_bytes,
        lambda files: {**files, "../../escaped.txt": b"x", "/etc/cron.d/evil": b"x", "evidence/../../up.txt": b"x"},
    )

    report = package.verify_package(hostile)

    unsafe = sorted(path for code, path in codes(report) if code == "unsafe_path")
    assert unsafe == ["../../escaped.txt", "/etc/cron.d/evil", "evidence/../../up.txt"]
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_symbolic_link_entry_is_reported(packaged: Packaged) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries(packaged.built.zip_bytes).items():
            archive.writestr(zipfile.ZipInfo(name, date_time=package.ZIP_DATE_TIME), data)
        link = zipfile.ZipInfo("evidence/link.pdf", date_time=package.ZIP_DATE_TIME)
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")

    assert ("unsafe_path", "evidence/link.pdf") in codes(package.verify_package(buffer.getvalue()))


def test_without_a_local_ca_a_root_must_be_given(packaged: Packaged, settings: Any, tmp_path: Path) -> None:
    settings.SIGNING_PKI_DIR = tmp_path / "no-ca-here"

    with pytest.raises(PackageUnreadableError) as raised:
        package.verify_package(packaged.built.zip_bytes)
    assert raised.value.code == "no_root"
    assert not (tmp_path / "no-ca-here").exists()
    assert package.verify_package(packaged.built.zip_bytes, trust_root_pem=packaged.root_pem).ok


def test_a_signed_pdf_broken_before_packaging_is_named(packaged: Packaged) -> None:
    """The manifest is intact and signed, but one signed PDF inside fails its own signature check."""
    report = package.verify_package(packaged.with_broken_pdf.zip_bytes)

    assert codes(report) == [("pdf_signature", "application/application-form.pdf")]
    broken = next(c for c in report.files if c.path == "application/application-form.pdf")
    assert broken.pdf is not None and not broken.pdf.ok
    assert "被修改过" in report.problems[0].message
    assert next(c for c in report.files if c.path == "agreement/agreement-signed.pdf").ok


def test_a_supplied_root_is_what_is_trusted(packaged: Packaged) -> None:
    assert package.verify_package(packaged.built.zip_bytes, trust_root_pem=packaged.root_pem).ok

    foreign = pdfs.test_pki().foreign_root.certificate.public_bytes(serialization.Encoding.PEM)
    report = package.verify_package(packaged.built.zip_bytes, trust_root_pem=foreign)
    found = codes(report)
    assert ("signature_untrusted", "manifest.json.p7s") in found
    assert ("ca_root_differs", "ca/root.crt") in found
    assert ("pdf_signature", "agreement/agreement-signed.pdf") in found


def test_a_swapped_root_copy_in_the_zip_is_flagged(packaged: Packaged) -> None:
    foreign = pdfs.test_pki().foreign_root.certificate.public_bytes(serialization.Encoding.PEM)
    swapped = rezip(packaged.built.zip_bytes, lambda files: {**files, "ca/root.crt": foreign})

    assert ("ca_root_differs", "ca/root.crt") in codes(package.verify_package(swapped))


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty"), (b"hello, court", "not_zip"), (b"PK\x03\x04broken", "not_zip")],
)
def test_what_is_not_a_zip_is_unreadable(data: bytes, code: str) -> None:
    with pytest.raises(PackageUnreadableError) as raised:
        package.verify_package(data)
    assert raised.value.code == code


def test_a_truncated_package_is_unreadable(packaged: Packaged) -> None:
    with pytest.raises(PackageUnreadableError) as raised:
        package.verify_package(packaged.built.zip_bytes[: len(packaged.built.zip_bytes) // 2])
    assert raised.value.code == "not_zip"


def test_a_root_that_is_not_a_certificate_is_refused(packaged: Packaged) -> None:
    with pytest.raises(PackageUnreadableError) as raised:
        package.verify_package(packaged.built.zip_bytes, trust_root_pem=b"-----BEGIN CERTIFICATE-----\nxx\n")
    assert raised.value.code == "root"


# --- refusing to build ---------------------------------------------------------------------------------


def test_no_package_without_an_effective_agreement(mediating_case: Case) -> None:
    with pytest.raises(PackageError) as raised:
        package.build_package(mediating_case)
    assert raised.value.code == "no_agreement"


@pytest.mark.parametrize(
    "path",
    ["../outside.pdf", "/abs.pdf", "manifest.json", "SHA256SUMS", "ca/root.crt", "a//b.pdf", ".hidden", "证据.pdf"],
)
def test_extra_files_need_safe_unreserved_paths(mediating_case: Case, path: str) -> None:
    with pytest.raises(PackageError) as raised:
        package.build_package(mediating_case, extra_files=[PackageFile(path, "undertaking", "承诺书", b"%PDF-1.7")])
    assert raised.value.code == "path"


def test_unknown_purpose_is_refused(mediating_case: Case) -> None:
    with pytest.raises(PackageError) as raised:
        package.package_files(mediating_case, purpose="anything")
    assert raised.value.code == "purpose"


def test_evidence_changed_on_disk_since_upload_is_refused(mediating_case: Case, consumer: User) -> None:
    evidence = services.add_evidence(
        mediating_case,
        user=consumer,
        upload=SimpleUploadedFile("合同.pdf", factories.sample_pdf_bytes(), "application/pdf"),
    )
    Path(evidence.file.path).write_bytes(factories.sample_pdf_bytes("swapped"))

    with pytest.raises(PackageError) as raised:
        package.evidence_documents(Evidence.objects.get(pk=evidence.pk).case)
    assert raised.value.code == "evidence_changed"
    assert "合同.pdf" in raised.value.message


def test_module_fixture_left_no_rows_behind(packaged: Packaged) -> None:
    assert not Case.objects.filter(number=packaged.case_number).exists()
