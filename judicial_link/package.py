"""The court package: a ZIP a court clerk can check without trusting us.

Layout (every entry sorted by name, fixed ZIP timestamps, so the same inputs give the same
entries apart from what carries the creation time)::

    SHA256SUMS                      sha256sum format, every entry except itself
    agreement/agreement-signed.pdf  the signed agreement, latest revision
    agreement/signing-report.pdf    签署报告, sealed by the centre
    ca/issuing.crt  ca/root.crt     the CA chain, PEM (a convenience: get the root out of band)
    evidence/001.pdf ...            every evidence file; the uploader's name only in the manifest
    ledger/ledger-excerpt.json      the case's audit-ledger entries with their hash chain
    manifest.json                   case facts and, per file, path, type, title, size, SHA-256, SM3
    manifest.json.p7s               detached CMS (DER) over manifest.json's exact bytes, centre seal
    parties.json                    service addresses and phones of the parties
    sessions/mediation-record-01.pdf ...  调解笔录 of each sitting, confirmed by the parties, sealed by the centre

A court checks it with plain tools (``openssl cms -verify ... -CAfile root.crt`` and
``sha256sum -c SHA256SUMS``) or with ``manage.py verify_package``, which also checks the PDFs'
own signatures.

在线调解规则 Art 18 (concessions in mediation cannot be used later) and Art 29 (confidentiality):
nothing said in a private caucus room may reach a court. ``package_files`` therefore reads only
the whitelisted sources in ``SOURCES``. The one thing read from ``mediation_sessions`` is the sealed
PDF of each mediation record (调解笔录) every party confirmed: its statements are joint-room
messages by construction (``sessions.record`` refuses a caucus message, whatever path writes it).

Purpose ``referral`` (诉调对接, 在线调解规则 Art 21: mediation failed, the materials go to a court for
filing) has ``termination/termination-record.pdf`` (signed by the mediator, sealed by the centre),
``complaint/complaint.json`` and ``complaint/institution-answer.json`` instead of the agreement and
its report, and no court in the manifest; the rest is the same. Agreement drafts never enter it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from judicial_link.models import TerminationRecord
from mediation import audience
from mediation.classification import issue_type_label
from mediation.ledger import case_excerpt, sm3_hex
from mediation.models import Case, CaseState, ClockKind, Deadline, Evidence, InstitutionAnswer, Organisation, User
from sessions.models import MediationRecord
from signing import pki, services, verify
from signing.models import Agreement
from signing.render import render_pdf

logger = logging.getLogger(__name__)

FORMAT = "fengqiao-court-package"
FORMAT_VERSION = 1
GENERATOR = "Fengqiao judicial_link.package 1"

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
CHECKSUMS = "SHA256SUMS"
ROOT_CERTIFICATE = "ca/root.crt"
ISSUING_CERTIFICATE = "ca/issuing.crt"
# Written by the builder itself; callers' files may not take these names.
RESERVED = frozenset({MANIFEST, SIGNATURE, CHECKSUMS, ROOT_CERTIFICATE, ISSUING_CERTIFICATE})

# The entries' timestamps carry no meaning (the manifest's created_at is the package's time); a
# constant keeps the ZIP the same for the same inputs. 1980-01-01 is the earliest a ZIP can hold.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Already compressed formats (PDF, images, audio, Office ZIPs) are stored; text is deflated.
DEFLATED_SUFFIXES = (".json", ".txt", ".crt")

# Paths the package may contain: ASCII, no empty, hidden, absolute or parent components, so the
# same string works in a ZIP, on every file system and in a SHA256SUMS line.
SAFE_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*")

# Document types whose PDFs must carry valid signatures of their own (verified per PDF).
SIGNED_DOC_TYPES = frozenset(
    {
        "agreement",
        "signing_report",
        "application_form",
        "undertaking",
        "mediation_record",
        "presiding_proof",
        "termination_record",
    }
)


def is_signed_type(doc_type: str) -> bool:
    """``undertaking:consumer:7`` is an undertaking: the part before the first colon decides."""
    return doc_type.split(":", 1)[0] in SIGNED_DOC_TYPES


# The extension of an evidence file follows what libmagic found at upload, never its name.
EVIDENCE_SUFFIXES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "text/plain": "txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "audio/mpeg": "mp3",
    "video/mp4": "mp4",
}


def max_package_bytes() -> int:
    """What ``verify_package`` reads at most, packed or unpacked (``PACKAGE_MAX_MB``, default 1024)."""
    return int(getattr(settings, "PACKAGE_MAX_MB", 1024)) * 1024 * 1024


class PackageError(Exception):
    """The package cannot be built; ``message`` says what is missing in words a person can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PackageUnreadableError(Exception):
    """The file cannot be checked at all (not a ZIP, empty, too large, a root certificate that is not one)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PackageFile:
    path: str  # inside the ZIP, e.g. "agreement/agreement-signed.pdf"
    doc_type: str  # stable machine code: "agreement", "signing_report", "evidence", "ledger_excerpt", ...
    title: str  # Chinese label, whatever the request language
    content: bytes = field(repr=False)
    original_name: str = ""  # the uploader's file name (evidence); only ever written into the manifest


@dataclass(frozen=True)
class BuiltPackage:
    zip_bytes: bytes = field(repr=False)
    manifest: dict[str, Any]
    sha256: str
    sm3: str
    files: list[PackageFile]

    @property
    def file_name(self) -> str:
        return f"{self.manifest['case']['number']}-{self.manifest['purpose']}.zip"


# --- what goes in ----------------------------------------------------------------------------------

# The court reads Chinese whatever language the person building the package reads (see _zh).
TITLES: dict[str, StrOrPromise] = {
    "agreement": gettext_lazy("调解协议书（已签署）"),
    "signing_report": gettext_lazy("签署报告"),
    "ledger_excerpt": gettext_lazy("案件审计日志摘录（含哈希链）"),
    "parties": gettext_lazy("当事人送达地址及联系电话"),
    "presiding_proof": gettext_lazy("调解组织主持调解证明（加盖印章）"),
}
PURPOSES: dict[str, StrOrPromise] = {"confirmation": gettext_lazy("司法确认申请")}


def _zh(message: StrOrPromise) -> str:
    """The package is a Chinese court document whatever language the person building it reads."""
    with translation.override("zh-hans"):
        return str(message)


def _read(field_file: Any) -> bytes:
    with field_file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def _effective_agreement(case: Case) -> Agreement:
    agreement = Agreement.objects.filter(case=case).first()
    if agreement is None or agreement.state != Agreement.State.EFFECTIVE:
        raise PackageError("no_agreement", _("案件尚无已生效的调解协议，不能生成司法确认材料包。"))
    return agreement


def agreement_document(case: Case) -> list[PackageFile]:
    agreement = _effective_agreement(case)
    latest = services.latest_revision(agreement)
    if latest is None:
        raise PackageError("no_agreement", _("案件尚无已生效的调解协议，不能生成司法确认材料包。"))
    content = _read(latest.file)
    if hashlib.sha256(content).hexdigest() != latest.sha256:
        raise PackageError("agreement_changed", _("已签署协议文件与签署时记录的哈希值不一致，请联系系统管理员。"))
    return [PackageFile("agreement/agreement-signed.pdf", "agreement", _zh(TITLES["agreement"]), content)]


def signing_report_document(case: Case) -> list[PackageFile]:
    report = services.signing_report(_effective_agreement(case))
    return [PackageFile("agreement/signing-report.pdf", "signing_report", _zh(TITLES["signing_report"]), report)]


def _first_move(case: Case, state: str) -> datetime | None:
    transition = case.transitions.filter(to_state=state).order_by("at", "pk").first()
    return transition.at if transition else None


def _date(moment: datetime | None) -> str:
    return f"{timezone.localdate(moment):%Y年%m月%d日}" if moment else "—"


def presiding_document(case: Case) -> list[PackageFile]:
    """司法确认程序规定 Art 3: proof that the mediation organisation presided, sealed by the centre."""
    agreement = _effective_agreement(case)
    latest = services.latest_revision(agreement)
    now = timezone.now()
    with translation.override("zh-hans"):
        context = {
            "case": case,
            "consumers": _consumers(case),
            "mediators": "、".join(user.display_name for user in audience.mediators(case)),
            "registered_date": _date(case.created_at),
            "started_date": _date(_first_move(case, CaseState.MEDIATING)),
            "effective_date": _date(agreement.effective_at),
            "agreement_sha256": latest.sha256 if latest else "",
            "today": _date(now),
            "created_w3c": now.isoformat(),
        }
        reason = _("调解组织出具主持调解证明")
    identifier = hashlib.sha256(f"presiding:{case.pk}:{now.isoformat()}".encode()).hexdigest()[:32]
    pdf = render_pdf("judicial_link/pdf/presiding.html", context, identifier=identifier)
    sealed = services.sign_in_new_field(
        pdf, "centre-seal", pki.authority().seal_certificate(case.centre), reason=reason
    )
    return [PackageFile("agreement/presiding-proof.pdf", "presiding_proof", _zh(TITLES["presiding_proof"]), sealed)]


def mediation_record_documents(case: Case) -> list[PackageFile]:
    """在线调解规则 Art 22: the record of each sitting, as the parties confirmed it and the centre sealed it."""
    found = (
        MediationRecord.objects.filter(session__case=case, state=MediationRecord.State.CONFIRMED)
        .select_related("session")
        .order_by("session__number")
    )
    files = []
    for record in found:
        number = record.session.number
        if not record.is_sealed:
            raise PackageError(
                "mediation_record_unsealed",
                _("第 %(number)s 场调解的调解笔录已经确认但尚未加盖印章，请稍后再试。") % {"number": number},
            )
        content = _read(record.pdf)
        if hashlib.sha256(content).hexdigest() != record.pdf_sha256:
            raise PackageError(
                "mediation_record_changed",
                _("第 %(number)s 场调解的调解笔录文件与盖章时记录的哈希值不一致，请联系系统管理员。")
                % {"number": number},
            )
        with translation.override("zh-hans"):
            title = _("调解笔录（第 %(number)s 场，经当事人确认）") % {"number": number}
        files.append(PackageFile(f"sessions/mediation-record-{number:02d}.pdf", "mediation_record", title, content))
    return files


def evidence_documents(case: Case) -> list[PackageFile]:
    """Every evidence file of the case, checked against the hash recorded at upload."""
    files = []
    for index, item in enumerate(Evidence.objects.filter(case=case).order_by("uploaded_at", "pk"), start=1):
        content = _read(item.file)
        if hashlib.sha256(content).hexdigest() != item.sha256:
            raise PackageError(
                "evidence_changed",
                _("证据材料“%(name)s”的文件与上传时记录的哈希值不一致，请联系系统管理员。")
                % {"name": item.original_name},
            )
        suffix = EVIDENCE_SUFFIXES.get(item.content_type, "bin")
        with translation.override("zh-hans"):
            title = _("证据材料 %(number)s") % {"number": index}
        files.append(
            PackageFile(f"evidence/{index:03d}.{suffix}", "evidence", title, content, original_name=item.original_name)
        )
    return files


def _json_bytes(data: Any) -> bytes:
    """Canonical JSON: sorted keys, UTF-8 (not escaped), two-space indent, one final newline."""
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def _local(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def ledger_document(case: Case) -> list[PackageFile]:
    entries = case_excerpt(case)
    content = _json_bytes(
        {
            "case_number": case.number,
            "hash_algorithms": {"entry_hash": "SHA-256", "entry_sm3": "SM3"},
            "entries": entries,
        }
    )
    return [PackageFile("ledger/ledger-excerpt.json", "ledger_excerpt", _zh(TITLES["ledger_excerpt"]), content)]


def _person(user: User) -> dict[str, Any]:
    return {"name": user.display_name, "phone": str(user.phone) if user.phone else "", "email": user.email}


def _consumers(case: Case) -> list[User]:
    return sorted(audience.consumers(case), key=lambda u: u.pk)


def parties_document(case: Case) -> list[PackageFile]:
    """司法确认程序规定 Art 3: the parties' service addresses and phones (IDs masked)."""
    institution = case.institution
    agents = sorted(audience.institution_people(case), key=lambda u: u.pk)
    content = _json_bytes(
        {
            "case_number": case.number,
            "consumers": [{**_person(u), "id_number_masked": u.id_number_masked} for u in _consumers(case)],
            "consumer_service_address": case.service_address,
            "consumer_service_address_confirmed_at": _local(case.service_address_confirmed_at),
            "institution": {
                "name": institution.name,
                "credit_code": institution.credit_code or "",
                "address": institution.address,
                "region": institution.region,
                "agents": [_person(u) for u in agents],
            },
        }
    )
    return [PackageFile("parties.json", "parties", _zh(TITLES["parties"]), content)]


Source = Callable[[Case], list[PackageFile]]

# The only places a package's files come from, per purpose. 在线调解规则 Art 18: no private
# caucus room is among them, and none may be added; the mediation records hold joint-room
# statements only.
SOURCES: dict[str, tuple[Source, ...]] = {
    "confirmation": (
        agreement_document,
        signing_report_document,
        presiding_document,
        mediation_record_documents,
        evidence_documents,
        ledger_document,
        parties_document,
    ),
}


# --- the litigation referral (诉调对接, 在线调解规则 Art 21) ------------------------------------------
# When mediation fails the court receives the signed termination record, the complaint and the
# institution's answer, the evidence, the ledger and the parties' addresses. Never the agreement
# drafts (concessions, Art 18) and never a private caucus.

TITLES["termination_record"] = gettext_lazy("调解终结记录（已签署）")
TITLES["complaint"] = gettext_lazy("投诉登记内容")
TITLES["institution_answer"] = gettext_lazy("被投诉机构的答复")
PURPOSES["referral"] = gettext_lazy("调解不成转诉讼材料包")


def termination_record_document(case: Case) -> list[PackageFile]:
    record = TerminationRecord.objects.filter(case=case).first()
    if record is None or record.signed_at is None:
        raise PackageError("no_termination_record", _("调解终结记录尚未签署，不能生成诉讼材料包。"))
    content = _read(record.signed_pdf)
    if hashlib.sha256(content).hexdigest() != record.signed_sha256:
        raise PackageError(
            "termination_record_changed", _("已签署的调解终结记录文件与签署时记录的哈希值不一致，请联系系统管理员。")
        )
    title = _zh(TITLES["termination_record"])
    return [PackageFile("termination/termination-record.pdf", "termination_record", title, content)]


def complaint_documents(case: Case) -> list[PackageFile]:
    """The complaint as filed and, when stored, the institution's answers (their attachments are evidence)."""
    with translation.override("zh-hans"):
        complaint = {
            "case_number": case.number,
            "filed_at": _local(case.created_at),
            "channel": str(case.get_intake_channel_display()),
            "institution": case.institution.name,
            "product_category": str(case.get_product_category_display()),
            "issue_type": issue_type_label(case.product_category, case.issue_type),
            "amount_in_dispute": str(case.amount_in_dispute),
            "description": case.description,
            "requested_outcome": case.requested_outcome,
        }
        answers = [
            {
                "answered_at": _local(answer.created_at),
                "outcome": str(answer.get_outcome_display()),
                "text": answer.text,
            }
            for answer in InstitutionAnswer.objects.filter(case=case).order_by("created_at", "pk")
        ]
    files = [PackageFile("complaint/complaint.json", "complaint", _zh(TITLES["complaint"]), _json_bytes(complaint))]
    if answers:
        content = _json_bytes({"case_number": case.number, "answers": answers})
        files.append(
            PackageFile(
                "complaint/institution-answer.json", "institution_answer", _zh(TITLES["institution_answer"]), content
            )
        )
    return files


SOURCES["referral"] = (
    termination_record_document,
    mediation_record_documents,
    complaint_documents,
    evidence_documents,
    ledger_document,
    parties_document,
)


def purpose_label(purpose: str) -> str:
    return _zh(PURPOSES[purpose])


def _check_purpose(purpose: str) -> None:
    if purpose not in SOURCES:
        raise PackageError("purpose", _("未知的材料包用途：%(purpose)s。") % {"purpose": purpose})


def package_files(case: Case, *, purpose: str = "confirmation") -> list[PackageFile]:
    """The files of a package for ``purpose``, from the whitelisted sources only, in source order."""
    _check_purpose(purpose)
    files: list[PackageFile] = []
    for source in SOURCES[purpose]:
        files.extend(source(case))
    return files


def _check_paths(files: Sequence[PackageFile]) -> None:
    seen: set[str] = set()
    for item in files:
        if not SAFE_PATH.fullmatch(item.path) or item.path in RESERVED:
            raise PackageError(
                "path", _("材料包中的文件路径“%(path)s”不合规或为保留名称。") % {"path": item.path[:200]}
            )
        if item.path in seen:
            raise PackageError("path", _("材料包中的文件路径“%(path)s”重复。") % {"path": item.path})
        seen.add(item.path)


# --- the manifest and its signature ----------------------------------------------------------------


def _organisation(organisation: Organisation) -> dict[str, Any]:
    return {"name": organisation.name, "credit_code": organisation.credit_code or "", "region": organisation.region}


def _court(court: Organisation | None) -> dict[str, Any] | None:
    if court is None:
        return None
    return {
        "name": court.name,
        "court_code": court.court_code,
        "court_level": court.court_level,
        "region": court.region,
    }


def _confirmation_due(case: Case) -> str | None:
    """民事诉讼法 Art 205: the last day of the 30-day window, from the clock engine."""
    deadline = (
        Deadline.objects.filter(case=case, kind=ClockKind.JUDICIAL_CONFIRMATION).order_by("-created_at", "-pk").first()
    )
    return deadline.due_date.isoformat() if deadline else None


def _file_entry(item: PackageFile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": item.path,
        "doc_type": item.doc_type,
        "title": item.title,
        "size": len(item.content),
        "sha256": hashlib.sha256(item.content).hexdigest(),
        "sm3": sm3_hex(item.content),
        "signed_pdf": is_signed_type(item.doc_type) and item.path.endswith(".pdf"),
    }
    if item.original_name:
        entry["original_name"] = item.original_name
    return entry


def build_manifest(
    case: Case, files: Sequence[PackageFile], *, purpose: str, court: Organisation | None, created_at: datetime
) -> dict[str, Any]:
    agreement = Agreement.objects.filter(case=case).first()
    mediators = sorted(audience.mediators(case), key=lambda u: u.pk)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": GENERATOR,
        "purpose": purpose,
        "purpose_label": purpose_label(purpose),
        "created_at": _local(created_at),
        "case": {
            "number": case.number,
            "agreement_code": agreement.short_code if agreement else None,
            "agreement_effective_at": _local(case.agreement_effective_at),
            "judicial_confirmation_due": _confirmation_due(case),
        },
        "parties": {
            "consumers": [{"name": u.display_name, "id_number_masked": u.id_number_masked} for u in _consumers(case)],
            "institution": _organisation(case.institution),
        },
        "mediators": [u.display_name for u in mediators],
        "centre": _organisation(case.centre),
        "court": _court(court),
        "files": [_file_entry(item) for item in files],
        "signature": {"path": SIGNATURE, "format": "CMS SignedData, detached, DER", "signer": case.centre.name},
    }


def sign_manifest(manifest_bytes: bytes, centre: Organisation) -> bytes:
    """A detached CMS signature (DER, binary mode) by the centre's seal, the CA chain included.

    Binary mode: the exact bytes are signed, no S/MIME text canonicalisation (CRLF) applies, so
    ``openssl cms -verify -binary`` checks the very file in the ZIP.
    """
    authority = pki.authority()
    seal = authority.seal_certificate(centre)
    certificate = x509.load_der_x509_certificate(bytes(seal.certificate_der))
    key = pki.load_private_key(seal)
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest_bytes)
        .add_signer(certificate, key, hashes.SHA256())
        .add_certificate(authority.issuing)
        .add_certificate(authority.root)
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


# --- the ZIP ---------------------------------------------------------------------------------------


def _zip_info(path: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
    info.create_system = 3  # Unix, so external_attr means permissions everywhere
    info.external_attr = 0o644 << 16
    deflate = path.endswith(DEFLATED_SUFFIXES) or path == CHECKSUMS
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    return info


def _checksums(entries: dict[str, bytes]) -> bytes:
    """``sha256sum`` output for every entry (two spaces: the format ``sha256sum -c`` reads)."""
    lines = [f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(entries.items())]
    return "".join(lines).encode()


def _write_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(entries):
            archive.writestr(_zip_info(path), entries[path])
    return buffer.getvalue()


def build_package(
    case: Case,
    *,
    purpose: str = "confirmation",
    court: Organisation | None = None,
    extra_files: Iterable[PackageFile] = (),
) -> BuiltPackage:
    """Build and sign the package. Writes no ledger entry (the caller records the export); the only
    write is the centre's seal certificate, issued on first use.

    Slow work (the signing report is rendered and sealed, every file is hashed): call it outside
    request transactions.
    """
    _check_purpose(purpose)
    extra = list(extra_files)
    _check_paths(extra)
    files = package_files(case, purpose=purpose) + extra
    _check_paths(files)
    created_at = timezone.now()
    manifest = build_manifest(case, files, purpose=purpose, court=court, created_at=created_at)
    manifest_bytes = _json_bytes(manifest)
    authority = pki.authority()
    entries = {item.path: item.content for item in files}
    entries[MANIFEST] = manifest_bytes
    entries[SIGNATURE] = sign_manifest(manifest_bytes, case.centre)
    entries[ROOT_CERTIFICATE] = authority.root.public_bytes(serialization.Encoding.PEM)
    entries[ISSUING_CERTIFICATE] = authority.issuing.public_bytes(serialization.Encoding.PEM)
    entries[CHECKSUMS] = _checksums(entries)
    zip_bytes = _write_zip(entries)
    return BuiltPackage(
        zip_bytes=zip_bytes,
        manifest=manifest,
        sha256=hashlib.sha256(zip_bytes).hexdigest(),
        sm3=sm3_hex(zip_bytes),
        files=files,
    )


# --- verification ----------------------------------------------------------------------------------


@dataclass
class Problem:
    code: str
    message: str
    path: str = ""


@dataclass
class FileCheck:
    path: str
    doc_type: str
    title: str
    size: int
    ok: bool
    problems: list[str] = field(default_factory=list)  # problem codes for this file
    pdf: verify.PdfReport | None = None  # the PDF's own signatures, for signed document types


@dataclass
class PackageReport:
    ok: bool
    problems: list[Problem]
    files: list[FileCheck]
    sha256: str  # of the ZIP
    sm3: str
    size: int
    manifest_sha256: str = ""
    case_number: str = ""
    purpose: str = ""
    created_at: str = ""
    signer: str = ""  # the manifest signer's certificate subject
    signed_at: datetime | None = None  # signer-reported signing time
    trust_root_sha256: str = ""  # fingerprint of the root the signature was checked against

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["signed_at"] = self.signed_at.isoformat() if self.signed_at else None
        body["files"] = [
            {**asdict(check), "pdf": check.pdf.as_dict() if check.pdf is not None else None} for check in self.files
        ]
        return body


def _unsafe(path: str) -> bool:
    """Zip-slip: absolute paths, drive letters, backslashes, ``..`` or empty components."""
    if not path or path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        return True
    parts = path.rstrip("/").split("/")
    return any(part in {"", ".", ".."} for part in parts)


def _load_root(pem: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in pem:
            return x509.load_pem_x509_certificate(pem)
        return x509.load_der_x509_certificate(pem)
    except ValueError as error:
        raise PackageUnreadableError("root", _("所提供的根证书无法读取，请提供PEM或DER格式的证书文件。")) from error


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _local_ca_exists() -> bool:
    """Whether this installation has its CA on disk; a court's machine has none, and none is generated."""
    return (Path(settings.SIGNING_PKI_DIR) / "root.crt").exists()


def _is_own_root(certificate: x509.Certificate) -> bool:
    if not _local_ca_exists():
        return False
    return _fingerprint(pki.authority().root) == _fingerprint(certificate)


def _validation_context(trust_root: x509.Certificate | None, chain: Sequence[x509.Certificate]) -> ValidationContext:
    """Our CA's context (its CRLs, revocation required) when trusting our root; otherwise the given
    root alone, with the package's intermediate certificates and no revocation data to hand."""
    if trust_root is None or _is_own_root(trust_root):
        return pki.authority().validation_context()
    return ValidationContext(
        trust_roots=[_asn1(trust_root)],
        other_certs=[_asn1(c) for c in chain],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _packaged_chain(entries: dict[str, bytes]) -> list[x509.Certificate]:
    """The issuing CA as shipped in the ZIP: untrusted, only a path-building hint."""
    try:
        return [x509.load_pem_x509_certificate(entries[ISSUING_CERTIFICATE])] if ISSUING_CERTIFICATE in entries else []
    except ValueError:
        return []


def _read_entries(zip_bytes: bytes) -> tuple[dict[str, bytes], list[Problem]]:
    if not zip_bytes:
        raise PackageUnreadableError("empty", _("文件为空。"))
    limit = max_package_bytes()
    if len(zip_bytes) > limit:
        raise PackageUnreadableError("too_large", _("文件过大，不能超过 %(limit)d MB。") % {"limit": limit // 1048576})
    problems: list[Problem] = []
    entries: dict[str, bytes] = {}
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            for info in archive.infolist():
                name = info.filename
                if _unsafe(name):
                    problems.append(
                        Problem(
                            "unsafe_path",
                            _("材料包含有不安全的路径“%(path)s”（绝对路径或“..”）。") % {"path": name},
                            name,
                        )
                    )
                    continue
                if name in entries:
                    problems.append(
                        Problem("duplicate_entry", _("材料包中“%(path)s”出现了不止一次。") % {"path": name}, name)
                    )
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    # unzip would create the link; whatever it points at is not what was signed.
                    problems.append(Problem("unsafe_path", _("材料包含有符号链接“%(path)s”。") % {"path": name}, name))
                    continue
                if info.is_dir():
                    continue
                # Read at most what is left of the budget: declared sizes of a hostile ZIP mean nothing.
                with archive.open(info) as handle:
                    data = handle.read(limit - total + 1)
                total += len(data)
                if total > limit:
                    raise PackageUnreadableError(
                        "too_large", _("文件解压后过大，不能超过 %(limit)d MB。") % {"limit": limit // 1048576}
                    )
                entries[name] = data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError) as error:
        logger.info("package unreadable: %r", error)
        raise PackageUnreadableError("not_zip", _("这不是有效的ZIP材料包，文件可能已损坏或不完整。")) from error
    return entries, problems


def _check_signature(
    manifest_bytes: bytes,
    signature: bytes | None,
    manifest: dict[str, Any] | None,
    trust_root: x509.Certificate | None,
    chain: list[x509.Certificate],
    report: PackageReport,
) -> None:
    problems = report.problems
    if signature is None:
        problems.append(Problem("signature_missing", _("材料包缺少清单签名文件 manifest.json.p7s。"), SIGNATURE))
        return
    context = _validation_context(trust_root, chain)
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        status = asyncio.run(
            async_validate_detached_cms(manifest_bytes, signed_data, signer_validation_context=context)
        )
    except Exception as error:  # untrusted input: any parser failure means an unusable signature
        logger.info("manifest signature unreadable: %r", error)
        problems.append(Problem("signature_unreadable", _("清单签名文件无法解析。"), SIGNATURE))
        return
    subject = status.signing_cert.subject.native
    report.signer = str(subject.get("common_name", ""))
    report.signed_at = status.signer_reported_dt
    if not (status.intact and status.valid):
        problems.append(
            Problem("signature_invalid", _("清单签名与 manifest.json 不符：清单或签名文件被改动过。"), MANIFEST)
        )
        return
    if status.revoked:
        problems.append(Problem("signature_revoked", _("清单签名所用的证书已被吊销。"), SIGNATURE))
    elif not status.trusted:
        problems.append(
            Problem("signature_untrusted", _("清单签名的证书不能追溯到所信任的根证书，无法确认签署人身份。"), SIGNATURE)
        )
    centre = (manifest or {}).get("centre") or {}
    organisation = subject.get("organization_name", "")
    if isinstance(organisation, list):
        organisation = organisation[-1] if organisation else ""
    if centre and organisation != centre.get("name"):
        problems.append(
            Problem(
                "signer_not_centre",
                _("清单不是由清单所列调解中心（%(centre)s）签署的，签署人为“%(signer)s”。")
                % {"centre": centre.get("name", ""), "signer": organisation or report.signer},
                SIGNATURE,
            )
        )


def _manifest_files(manifest: dict[str, Any], problems: list[Problem]) -> list[dict[str, Any]]:
    listed = manifest.get("files")
    required = {"path": str, "doc_type": str, "size": int, "sha256": str, "sm3": str}
    if not isinstance(listed, list) or not all(
        isinstance(entry, dict) and all(isinstance(entry.get(key), kind) for key, kind in required.items())
        for entry in listed
    ):
        problems.append(Problem("manifest_invalid", _("manifest.json 的文件清单格式不正确。"), MANIFEST))
        return []
    paths = [entry["path"] for entry in listed]
    for path in sorted({p for p in paths if paths.count(p) > 1 or _unsafe(p) or p in RESERVED}):
        problems.append(
            Problem("manifest_invalid", _("manifest.json 列出的路径“%(path)s”不安全或重复。") % {"path": path}, path)
        )
    return [entry for entry in listed if not _unsafe(entry["path"]) and entry["path"] not in RESERVED]


def _check_file(
    entry: dict[str, Any], data: bytes | None, pdf_context: ValidationContext | None, problems: list[Problem]
) -> FileCheck:
    path = entry["path"]
    check = FileCheck(path, entry["doc_type"], str(entry.get("title", "")), entry["size"], ok=True)
    if data is None:
        check.problems.append("file_missing")
        problems.append(Problem("file_missing", _("清单所列文件 %(path)s 不在材料包中。") % {"path": path}, path))
    else:
        differences = []
        if len(data) != entry["size"]:
            differences.append(_("大小"))  # joined with "/" below
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            differences.append("SHA-256")
        if sm3_hex(data) != entry["sm3"]:
            differences.append("SM3")
        if differences:
            check.problems.append("file_changed")
            problems.append(
                Problem(
                    "file_changed",
                    _("文件 %(path)s 与清单记录不符（%(what)s 不一致），文件已被改动。")
                    % {"path": path, "what": "/".join(differences)},
                    path,
                )
            )
        if entry.get("signed_pdf"):
            check.pdf = _check_pdf(path, data, pdf_context, check, problems)
    check.ok = not check.problems
    return check


def _check_pdf(
    path: str, data: bytes, context: ValidationContext | None, check: FileCheck, problems: list[Problem]
) -> verify.PdfReport | None:
    try:
        report = verify.verify_pdf(data, validation_context=context, size_limit=False)
    except verify.VerificationError as error:
        check.problems.append("pdf_unreadable")
        problems.append(Problem("pdf_unreadable", f"{path}: {error.message}", path))
        return None
    if not report.ok:
        check.problems.append("pdf_signature")
        problems.append(
            Problem(
                "pdf_signature",
                _("%(path)s 的电子签名未通过验证：%(verdict)s") % {"path": path, "verdict": report.verdict},
                path,
            )
        )
    return report


def _check_checksums(entries: dict[str, bytes], problems: list[Problem]) -> None:
    """SHA256SUMS is unsigned (the manifest is what is signed) but must agree, or ``sha256sum -c`` fails."""
    text = entries.get(CHECKSUMS)
    if text is None:
        problems.append(Problem("checksums_missing", _("材料包缺少 SHA256SUMS 文件。"), CHECKSUMS))
        return
    listed: dict[str, str] = {}
    for line in text.decode("utf-8", "replace").splitlines():
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if match is None:
            problems.append(Problem("checksums_mismatch", _("SHA256SUMS 中有无法识别的行。"), CHECKSUMS))
            return
        listed[match.group(2)] = match.group(1)
    expected = {path for path in entries if path != CHECKSUMS}
    wrong = sorted(
        path
        for path in expected | set(listed)
        if path not in listed or path not in entries or hashlib.sha256(entries[path]).hexdigest() != listed[path]
    )
    for path in wrong:
        problems.append(
            Problem("checksums_mismatch", _("SHA256SUMS 中 %(path)s 的记录与文件不符或缺失。") % {"path": path}, path)
        )


def verify_package(zip_bytes: bytes, *, trust_root_pem: bytes | None = None) -> PackageReport:
    """Check a package as a court would, file by file; never extracts anything to disk.

    The manifest signature must chain to ``trust_root_pem`` (the root a court obtained out of band)
    or, without it, to this platform's root; the ZIP's own ``ca/root.crt`` is never trusted, only
    compared. Raises ``PackageUnreadableError`` when the file is not a ZIP at all.
    """
    trust_root = _load_root(trust_root_pem) if trust_root_pem is not None else None
    if trust_root is None and not _local_ca_exists():
        # Generating a CA here would "trust" a root no package was ever signed under.
        raise PackageUnreadableError(
            "no_root", _("本机没有本平台的根证书，请指定所信任的根证书（--root root.crt）后再核验。")
        )
    entries, problems = _read_entries(zip_bytes)
    chain = _packaged_chain(entries)
    report = PackageReport(
        ok=False,
        problems=problems,
        files=[],
        sha256=hashlib.sha256(zip_bytes).hexdigest(),
        sm3=sm3_hex(zip_bytes),
        size=len(zip_bytes),
    )
    manifest_bytes = entries.get(MANIFEST)
    manifest: dict[str, Any] | None = None
    if manifest_bytes is None:
        problems.append(Problem("manifest_missing", _("材料包缺少 manifest.json。"), MANIFEST))
    else:
        report.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            loaded = json.loads(manifest_bytes.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            loaded = None
        if isinstance(loaded, dict):
            manifest = loaded
            report.case_number = str((manifest.get("case") or {}).get("number", ""))
            report.purpose = str(manifest.get("purpose", ""))
            report.created_at = str(manifest.get("created_at", ""))
        else:
            problems.append(Problem("manifest_invalid", _("manifest.json 不是有效的JSON对象。"), MANIFEST))
        _check_signature(manifest_bytes, entries.get(SIGNATURE), manifest, trust_root, chain, report)

    trusted = pki.authority().root if trust_root is None else trust_root
    report.trust_root_sha256 = _fingerprint(trusted)
    packaged_root = entries.get(ROOT_CERTIFICATE)
    if packaged_root is not None and packaged_root != trusted.public_bytes(serialization.Encoding.PEM):
        problems.append(
            Problem(
                "ca_root_differs",
                _("材料包中的 ca/root.crt 与所信任的根证书不同，不能用它来核验。"),
                ROOT_CERTIFICATE,
            )
        )

    listed = _manifest_files(manifest, problems) if manifest is not None else []
    if listed:
        # None: verify_pdf's default, our CA with its CRLs.
        pdf_context = None if trust_root is None else _validation_context(trust_root, chain)
        report.files = [_check_file(entry, entries.get(entry["path"]), pdf_context, problems) for entry in listed]
    known = {entry["path"] for entry in listed} | RESERVED
    for path in sorted(set(entries) - known):
        problems.append(Problem("unlisted_file", _("材料包中的 %(path)s 未列在清单中。") % {"path": path}, path))
    _check_checksums(entries, problems)
    report.ok = not problems
    return report


# --- enforcement (民事诉讼法 Arts 235, 250) ----------------------------------------------------------
# The application for enforcement of a confirmed agreement: the court's ruling, the agreement, the
# due items with the performing side's evidence, the parties and the ledger. The application form
# (申请执行书) is the applicant's own document and comes in through ``extra_files``. Like every
# purpose, no private caucus room (mediation_sessions) is a source (在线调解规则 Art 18).

TITLES["ruling"] = gettext_lazy("民事裁定书（确认调解协议有效）")
TITLES["due_items"] = gettext_lazy("调解协议履行情况明细")
PURPOSES["enforcement"] = gettext_lazy("申请强制执行")
SIGNED_DOC_TYPES = SIGNED_DOC_TYPES | {"ruling"}


def ruling_document(case: Case) -> list[PackageFile]:
    """The court's sealed ruling confirming the agreement (the title to be enforced)."""
    from judicial_link.models import ConfirmationApplication

    application = (
        ConfirmationApplication.objects.filter(case=case, state=ConfirmationApplication.State.CONFIRMED)
        .exclude(ruling="")
        .order_by("-ruled_at", "-pk")
        .first()
    )
    if application is None:
        raise PackageError("not_confirmed", _("调解协议尚未经人民法院裁定确认有效，不能申请强制执行。"))
    content = _read(application.ruling)
    if hashlib.sha256(content).hexdigest() != application.ruling_sha256:
        raise PackageError("ruling_changed", _("裁定书文件与法院送达时记录的哈希值不一致，请联系系统管理员。"))
    return [PackageFile("ruling/ruling.pdf", "ruling", _zh(TITLES["ruling"]), content)]


def payment_evidence_path(item: Any) -> str:
    return f"performance/evidence/{item.sequence:03d}.{EVIDENCE_SUFFIXES.get(item.evidence_content_type, 'bin')}"


def _due_items(case: Case) -> list[Any]:
    from judicial_link.models import DueItem

    return list(DueItem.objects.filter(case=case).order_by("sequence"))


def due_items_document(case: Case) -> list[PackageFile]:
    """Every due item: what, by when, its state, the latest report and the answer to it."""
    today = timezone.localdate()
    rows = []
    for item in _due_items(case):
        rows.append(
            {
                "sequence": item.sequence,
                "kind": item.kind,
                "description": item.description,
                "due_date": item.due_date.isoformat(),
                "amount": str(item.amount) if item.amount is not None else None,
                "payer": item.payer_name,
                "payee": item.payee_name,
                "state": item.state,
                "state_label": _zh(item.get_state_display()),
                "overdue": item.is_overdue(today),
                "days_overdue": max((today - item.due_date).days, 0) if item.is_overdue(today) else 0,
                "reports": item.report_count,
                "paid_on": item.paid_on.isoformat() if item.paid_on else None,
                "paid_amount": str(item.paid_amount) if item.paid_amount is not None else None,
                "report_note": item.report_note,
                "reported_at": _local(item.reported_at),
                "evidence": payment_evidence_path(item) if item.evidence else None,
                "evidence_sha256": item.evidence_sha256 or None,
                "responded_at": _local(item.responded_at),
                "dispute_reason": item.dispute_reason,
            }
        )
    content = _json_bytes({"case_number": case.number, "as_of": today.isoformat(), "items": rows})
    return [PackageFile("performance/due-items.json", "due_items", _zh(TITLES["due_items"]), content)]


def payment_evidence_documents(case: Case) -> list[PackageFile]:
    """The evidence of each reported performance, checked against the hash recorded at upload."""
    files = []
    for item in _due_items(case):
        if not item.evidence:
            continue
        content = _read(item.evidence)
        if hashlib.sha256(content).hexdigest() != item.evidence_sha256:
            raise PackageError(
                "evidence_changed",
                _("履行凭证“%(name)s”的文件与上传时记录的哈希值不一致，请联系系统管理员。")
                % {"name": item.evidence_name},
            )
        with translation.override("zh-hans"):
            title = _("第 %(sequence)s 项履行凭证") % {"sequence": item.sequence}
        files.append(
            PackageFile(
                payment_evidence_path(item), "payment_evidence", title, content, original_name=item.evidence_name
            )
        )
    return files


SOURCES["enforcement"] = (
    ruling_document,
    agreement_document,
    due_items_document,
    payment_evidence_documents,
    ledger_document,
    parties_document,
)
