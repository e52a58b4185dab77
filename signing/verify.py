"""Verification of signed agreement PDFs: per signature, and for the document as a whole.

A CMS check alone is not enough (pitfall P14): poppler's ``pdfsig`` still calls every signature
valid after an incremental update appended behind them rotates a page or draws new content. So
each signature goes through pyHanko's ``validate_pdf_signature``, whose difference analysis
classifies everything written after the signed revision (``ModificationLevel``) and checks it
against the DocMDP/FieldMDP locks; anything beyond signing, form filling and LTV maintenance
makes the signature fail.

Event certificates live for minutes (电子签名法 Art 13: signer-controlled, used once), so the
signer's chain is judged at the time of the signature's RFC 3161 timestamp, not now: a signature
made with a certificate that has since expired stays valid, one made after its certificate was
revoked does not. Revocation lists published later are applied retroactively for that purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from asn1crypto import cms, core, x509
from django.conf import settings
from django.db.models import Value
from django.db.models.functions import Replace, Upper
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import CertificateRegistry

from mediation.ledger import sm3_hex
from signing.models import Agreement, PdfRevision, SignatureSlot

logger = logging.getLogger(__name__)

NOT_CODE_CHARACTERS = re.compile(r"[^0-9A-Za-z]")
# The header may follow a little junk (ISO 32000-1 §7.5.2 tolerance in readers); anything else is not a PDF.
PDF_MAGIC = b"%PDF-"
PDF_MAGIC_WINDOW = 1024


# pyHanko's ModificationLevel, in words: what was written into the file after a signature.
MODIFICATION_LEVELS = {
    "NONE": gettext_lazy("签署后文件没有任何改动"),
    "LTA_UPDATES": gettext_lazy("签署后只添加了长期验证数据或文档时间戳"),
    "FORM_FILLING": gettext_lazy("签署后只添加了后续签名或填写了表单"),
    "ANNOTATIONS": gettext_lazy("签署后添加了批注"),
    "OTHER": gettext_lazy("签署后文件内容被改动"),
}


def max_upload_bytes() -> int:
    return int(getattr(settings, "VERIFY_MAX_MB", 20)) * 1024 * 1024


class VerificationError(Exception):
    """The file cannot be verified at all; ``message`` says why in words a visitor understands."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SignatureCheck:
    field_name: str
    signer: str  # certificate subject CN
    organisation: str  # subject O, or ""
    serial: str  # certificate serial number, upper-case hex (as IssuedCertificate.serial)
    signed_at: datetime | None  # signer-reported time
    timestamp_at: datetime | None  # time of the RFC 3161 signature timestamp
    intact: bool  # the signed bytes are unchanged (digest matches)
    valid: bool  # the CMS signature is cryptographically valid
    trusted: bool  # chains to our root at the timestamp time, and the timestamp itself is trusted
    revoked: bool
    timestamp_trusted: bool | None  # the signature timestamp is intact, valid and trusted; None without one
    coverage: str  # pyHanko SignatureCoverageLevel name
    modification_level: str  # pyHanko ModificationLevel name; "" when unknown
    changed_after: bool  # changed after this signature in a way the document's locks do not allow
    ok: bool
    verdict: str

    @property
    def modification_label(self) -> str:
        return str(MODIFICATION_LEVELS.get(self.modification_level, ""))


@dataclass
class TimestampCheck:
    """A document timestamp (PAdES B-LTA archive timestamp)."""

    field_name: str
    timestamp_at: datetime | None
    intact: bool
    valid: bool
    trusted: bool
    modification_level: str
    changed_after: bool
    ok: bool


@dataclass
class PdfReport:
    sha256: str
    sm3: str
    size: int
    signatures: list[SignatureCheck]
    timestamps: list[TimestampCheck]
    ok: bool  # at least one signature, and every signature and document timestamp ok
    verdict: str  # one plain-language sentence for the whole document
    unsigned_fields: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.astimezone(UTC).isoformat()
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            if isinstance(value, list):
                return [plain(item) for item in value]
            return value

        return plain(dataclasses.asdict(self))  # type: ignore[no-any-return]


def default_validation_context() -> ValidationContext:
    """The built-in CA's context: our root as the only trust anchor, its CRLs in memory."""
    from signing import pki

    return pki.authority().validation_context()


def verify_pdf(
    data: bytes, *, validation_context: ValidationContext | None = None, size_limit: bool = True
) -> PdfReport:
    """Verify every signature and document timestamp in ``data``.

    Raises ``VerificationError`` when the file is empty, larger than ``VERIFY_MAX_MB`` (unless
    ``size_limit`` is off: the command line reads files an operator chose), not a PDF, or cannot
    be parsed.
    """
    _check_envelope(data, max_upload_bytes() if size_limit else None)
    reader = _open(data)
    base = validation_context if validation_context is not None else default_validation_context()
    try:
        embedded = reader.embedded_regular_signatures
        timestamps = reader.embedded_timestamp_signatures
        unsigned = [name for name, _value, _ref in enumerate_sig_fields(reader, filled_status=False)]
    except Exception as exc:  # untrusted input: any parser failure means "unreadable"
        logger.info("signature dictionaries unreadable: %r", exc)
        raise VerificationError("unreadable", _("无法读取文件中的签名数据，文件可能已损坏。")) from exc
    signatures = [_check_signature(sig, base) for sig in embedded]
    stamps = [_check_timestamp(ts, base) for ts in timestamps]
    ok = bool(signatures) and all(s.ok for s in signatures) and all(t.ok for t in stamps)
    return PdfReport(
        sha256=hashlib.sha256(data).hexdigest(),
        sm3=sm3_hex(data),
        size=len(data),
        signatures=signatures,
        timestamps=stamps,
        ok=ok,
        verdict=_document_verdict(signatures, stamps, unsigned),
        unsigned_fields=unsigned,
    )


def _check_envelope(data: bytes, limit: int | None) -> None:
    if not data:
        raise VerificationError("empty", _("文件为空。"))
    if limit is not None and len(data) > limit:
        raise VerificationError(
            "too_large",
            _("文件过大（%(size).1f MB），不能超过 %(limit)d MB。")
            % {"size": len(data) / 1048576, "limit": limit // 1048576},
        )
    if PDF_MAGIC not in data[:PDF_MAGIC_WINDOW]:
        raise VerificationError("not_pdf", _("这不是PDF文件。请上传本平台出具的调解协议PDF文件。"))


def _open(data: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(BytesIO(data))
        encrypted = reader.encrypted
    except Exception as exc:  # untrusted input: any parser failure means "unreadable"
        logger.info("PDF unreadable: %r", exc)
        raise VerificationError("unreadable", _("无法读取该PDF文件，文件可能已损坏或不完整。")) from exc
    if encrypted:
        raise VerificationError("encrypted", _("该PDF文件已加密，无法验证。本平台出具的协议不加密。"))
    return reader


def _subject(certificate: x509.Certificate, key: str) -> str:
    value = certificate.subject.native.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def _signature_timestamp_time(signer_info: cms.SignerInfo) -> datetime | None:
    """genTime of the first RFC 3161 signature timestamp token, read without judging it."""
    unsigned = signer_info["unsigned_attrs"]
    # Not ``.native``: that would parse the whole timestamp token into Python objects (3/4 of the time).
    if isinstance(unsigned, core.Void):
        return None
    for attribute in unsigned:
        if attribute["type"].native == "signature_time_stamp_token":
            token = attribute["values"][0]["content"]
            gen_time = token["encap_content_info"]["content"].parsed["gen_time"].native
            return gen_time if isinstance(gen_time, datetime) else None
    return None


def _at_moment(base: ValidationContext, moment: datetime) -> ValidationContext:
    """``base`` frozen at ``moment``: same trust anchors, certificates, CRLs, policies; nothing fetched.

    Revocation information issued after ``moment`` is accepted (a CRL published today says whether
    the certificate had been revoked before the signature); our CA never puts certificates on hold.
    """
    return ValidationContext(
        trust_manager=base.path_builder.trust_manager,
        certificate_registry=CertificateRegistry.build(list(base.certificate_registry)),
        crls=base.crls,
        ocsps=base.ocsps,
        revinfo_policy=dataclasses.replace(base.revinfo_policy, retroactive_revinfo=True),
        moment=moment,
        time_tolerance=base.time_tolerance,
        algorithm_usage_policy=base.algorithm_policy,
    )


def _level_name(level: Any) -> str:
    return level.name if level is not None else ""


def _check_signature(sig: Any, base: ValidationContext) -> SignatureCheck:
    identity = {"field_name": str(sig.field_name), "signer": "", "organisation": "", "serial": ""}
    try:
        certificate = sig.signer_cert
        identity.update(
            signer=_subject(certificate, "common_name"),
            organisation=_subject(certificate, "organization_name"),
            serial=format(certificate.serial_number, "X"),
        )
        stamped_at = _signature_timestamp_time(sig.signer_info)
        signer_context = _at_moment(base, stamped_at) if stamped_at is not None else base
        status = validate_pdf_signature(sig, signer_validation_context=signer_context, ts_validation_context=base)
    except Exception as exc:  # a malformed signature fails; the other signatures still count
        logger.warning("signature %s unverifiable: %r", identity["field_name"], exc, exc_info=True)
        return SignatureCheck(
            **identity,
            signed_at=None,
            timestamp_at=None,
            intact=False,
            valid=False,
            trusted=False,
            revoked=False,
            timestamp_trusted=None,
            coverage="",
            modification_level="",
            changed_after=False,
            ok=False,
            verdict=_("签名数据无法解析，签名无效。"),
        )
    stamp = status.timestamp_validity
    timestamp_trusted = None if stamp is None else bool(stamp.intact and stamp.valid and stamp.trusted)
    trusted = bool(status.trusted) and timestamp_trusted is not False
    changed_after = status.docmdp_ok is not True
    check = SignatureCheck(
        **identity,
        signed_at=status.signer_reported_dt,
        timestamp_at=stamp.timestamp if stamp is not None else None,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        revoked=bool(status.revoked),
        timestamp_trusted=timestamp_trusted,
        coverage=_level_name(status.coverage),
        modification_level=_level_name(status.modification_level),
        changed_after=changed_after,
        ok=bool(status.bottom_line) and trusted and not changed_after,
        verdict="",
    )
    check.verdict = _signature_verdict(check)
    return check


def _check_timestamp(ts: Any, base: ValidationContext) -> TimestampCheck:
    try:
        status = validate_pdf_timestamp(ts, validation_context=base)
    except Exception as exc:  # a malformed timestamp fails, the report still comes out
        logger.warning("document timestamp %s unverifiable: %r", ts.field_name, exc, exc_info=True)
        return TimestampCheck(str(ts.field_name), None, False, False, False, "", False, False)
    level = status.modification_level
    changed_after = level is None or level.name == "OTHER"
    intact, valid, trusted = bool(status.intact), bool(status.valid), bool(status.trusted)
    return TimestampCheck(
        field_name=str(ts.field_name),
        timestamp_at=status.timestamp,
        intact=intact,
        valid=valid,
        trusted=trusted,
        modification_level=_level_name(level),
        changed_after=changed_after,
        ok=intact and valid and trusted and not changed_after,
    )


def _signature_verdict(check: SignatureCheck) -> str:
    if not check.intact:
        return _("签名已损坏：签署后，签名所覆盖的文件内容被改动过。")
    if not check.valid:
        return _("签名无效：签名数据与签名人证书不符。")
    if check.changed_after:
        return _("签署之后文件又被以不允许的方式修改过，当前内容与签署时不一致，文件可能已被篡改。")
    if check.revoked:
        return _("签名人的证书在签署时已被吊销，该签名不可信。")
    if check.timestamp_trusted is False:
        return _("签名的时间戳无效，或不是由可信的时间戳服务出具的。")
    if not check.trusted:
        return _("签名人的证书不是由本平台的认证机构签发的，或在签署时已失效，无法确认签名人身份。")
    if not check.ok:
        return _("签名未通过验证。")
    return _("签名有效：签名人身份可信，签署后文件未被篡改。")


def _document_verdict(signatures: list[SignatureCheck], stamps: list[TimestampCheck], unsigned: list[str]) -> str:
    if not signatures:
        return _("该文件没有电子签名，无法证明它出自本平台或未被改动。")

    def described(index: int) -> dict[str, object]:
        return {"number": index + 1, "signer": signatures[index].signer}

    broken = [i for i, s in enumerate(signatures) if not s.intact or not s.valid]
    if broken:
        return _("文件已被篡改：第 %(number)s 个签名（%(signer)s）所覆盖的内容被改动过。") % described(broken[0])
    changed = [i for i, s in enumerate(signatures) if s.changed_after]
    if changed:
        # Every signature before an illegal change sees it; the last of them is the one it followed.
        return _(
            "文件在第 %(number)s 个签名（%(signer)s）之后被修改过，当前内容与签署时不一致，文件可能已被篡改。"
        ) % described(changed[-1])
    revoked = [i for i, s in enumerate(signatures) if s.revoked]
    if revoked:
        return _("第 %(number)s 个签名（%(signer)s）的证书已被吊销，该签名不可信。") % described(revoked[0])
    bad_timestamp = [i for i, s in enumerate(signatures) if s.timestamp_trusted is False]
    if bad_timestamp:
        return _("第 %(number)s 个签名（%(signer)s）的时间戳无效或不可信，无法确认签署时间。") % described(
            bad_timestamp[0]
        )
    untrusted = [i for i, s in enumerate(signatures) if not s.trusted]
    if untrusted:
        return _(
            "第 %(number)s 个签名（%(signer)s）不是用本平台认证机构签发的有效证书签署的，无法确认签名人身份。"
        ) % described(untrusted[0])
    failed = [i for i, s in enumerate(signatures) if not s.ok]
    if failed:
        return _("第 %(number)s 个签名（%(signer)s）未通过验证。") % described(failed[0])
    if not all(t.ok for t in stamps):
        return _("签名均有效，但文档时间戳无效，或在加盖时间戳之后文件被修改过。")
    if unsigned:
        return _("已有的 %(signed)s 个签名均有效，签署后文件未被篡改；另有 %(pending)s 个签名栏尚未签署。") % {
            "signed": len(signatures),
            "pending": len(unsigned),
        }
    return _("文件中的签名全部有效（共 %(count)s 个），签署后文件未被篡改。") % {"count": len(signatures)}


# --- the agreement behind a file ----------------------------------------------------------------


@dataclass
class AgreementStatus:
    """What an anonymous visitor may learn about an agreement: its case number and signing progress."""

    case_number: str
    short_code: str
    state: str
    state_label: str
    signed: int  # signatures given so far
    total: int  # signature fields in the agreement
    latest_revision: int | None  # number of the newest PdfRevision, None before rendering
    effective_at: datetime | None
    revision: int | None = None  # the revision the verified file is, when it was matched by hash

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["effective_at"] = self.effective_at.astimezone(UTC).isoformat() if self.effective_at else None
        return data


def agreement_status(agreement: Agreement, *, revision: int | None = None) -> AgreementStatus:
    slots = agreement.slots.all()
    latest = agreement.revisions.order_by("-number").values_list("number", flat=True).first()
    return AgreementStatus(
        case_number=agreement.case.number,
        short_code=agreement.short_code,
        state=agreement.state,
        state_label=str(agreement.get_state_display()),
        signed=slots.filter(status=SignatureSlot.Status.SIGNED).count(),
        total=slots.count(),
        latest_revision=latest,
        effective_at=agreement.effective_at,
        revision=revision,
    )


def match_agreement(report: PdfReport) -> AgreementStatus | None:
    """The agreement whose recorded revision has exactly this file's SHA-256, if this platform issued it."""
    found = (
        PdfRevision.objects.filter(sha256=report.sha256)
        .select_related("agreement__case")
        .order_by("-number", "-pk")
        .first()
    )
    if found is None:
        return None
    return agreement_status(found.agreement, revision=found.number)


def normalise_code(code: str) -> str:
    """Short codes (upper-case letters and digits) are read off paper: ignore case, spaces, dashes, anything else."""
    return NOT_CODE_CHARACTERS.sub("", code).upper()


def find_agreement_by_code(code: str) -> Agreement | None:
    wanted = normalise_code(code)
    if not wanted:
        return None
    return (
        Agreement.objects.select_related("case")
        .annotate(normalised_code=Upper(Replace(Replace("short_code", Value("-"), Value("")), Value(" "), Value(""))))
        .filter(normalised_code=wanted)
        .first()
    )
