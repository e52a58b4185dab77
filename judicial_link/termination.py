"""When mediation fails: the termination record (调解终结记录) and the litigation-referral package.

在线调解规则 Art 21: when online mediation ends without agreement, the mediator records the basic
facts of the mediation, why it failed, any conduct of a party that increased the other party's
litigation costs and anything else the court should be told; the materials then pass to the court
for filing (诉调对接). Art 22: facts the parties did not dispute are recorded as such. Art 18:
concessions made to reach agreement may not be used against a party later — the record says so,
and the referral package reads only whitelisted sources (``judicial_link.package``, purpose
``referral``), never the agreement drafts or a private caucus.

The case's mediator drafts the record once the case is terminated (the centre's case managers when
mediation ended before any mediator took the case: Art 21 names the organisation as well), signs
it with their own one-signature certificate after password + one-time code, and the centre's seal
follows at once, which makes it the organisation's record. A signed record never changes.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from judicial_link import package as packages
from judicial_link.models import ReferralPackage, TerminationRecord
from mediation import audience, ledger, permissions
from mediation.classification import issue_type_label
from mediation.ledger import sm3_hex
from mediation.models import Case, CaseParticipant, CaseState, InstitutionAnswer, OneTimeCode, User
from mediation.notifications import notify
from mediation.services import CaseError
from signing import documents, pki
from signing import services as signing_services
from signing.evidence import Origin
from signing.render import render_pdf
from signing.services import SigningError

TEMPLATE = "judicial_link/pdf/termination_record.html"
MEDIATOR_FIELD = "mediator"
SEAL_FIELD = "centre-seal"
# The fields the drafter writes, in the order of the record; their hash is what the signer saw.
TEXT_FIELDS = ("basic_facts", "undisputed_facts", "failure_reasons", "cost_increasing_conduct", "notes_for_court")
REQUIRED_FIELDS = ("basic_facts", "failure_reasons")
MAX_CHARS = 5000


class TerminationError(CaseError):
    """Refused; ``code`` is stable, ``field`` names the form field when there is one."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


# --- who -------------------------------------------------------------------------------------------


def _active_mediators(case: Case) -> list[User]:
    capacities = [CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR]
    rows = case.participants.filter(removed_at__isnull=True, capacity__in=capacities).select_related("user")
    return list({row.user_id: row.user for row in rows}.values())


def drafters(case: Case) -> list[User]:
    """Who records and signs: the mediators on the case; the centre's case managers when none is."""
    return _active_mediators(case) or audience.case_managers(case)


def may_draft(user: User, case: Case) -> bool:
    if not user.is_authenticated or not user.has_perm(permissions.VIEW, case):
        return False
    return any(person.pk == user.pk for person in drafters(case))


def _require_terminated(case: Case) -> None:
    if case.state != CaseState.TERMINATED:
        raise TerminationError(
            "state",
            _("案件当前状态为「%(state)s」：只有调解终止的案件才能制作调解终结记录。")
            % {"state": case.get_state_display()},
        )


def _require_drafter(user: User, case: Case) -> None:
    if not may_draft(user, case):
        raise TerminationError("not_drafter", _("只有本案的调解员可以制作和签署调解终结记录。"))


# --- the draft -------------------------------------------------------------------------------------


def terminated_at(case: Case) -> datetime.datetime | None:
    transition = case.transitions.filter(to_state=CaseState.TERMINATED).order_by("-at", "-pk").first()
    return transition.at if transition else None


def _money(amount: Any) -> str:
    return f"{amount:,.2f}"


def proposed_text(case: Case) -> dict[str, str]:
    """A first draft from the complaint and the termination, for the mediator to correct."""
    with translation.override("zh-hans"):
        consumers = "、".join(person.display_name for person in audience.consumers(case))
        lines = [
            _(
                "投诉人%(consumers)s与被投诉机构%(institution)s因%(category)s（%(issue)s）发生纠纷，"
                "争议金额人民币%(amount)s元。"
            )
            % {
                "consumers": consumers,
                "institution": case.institution.name,
                "category": case.get_product_category_display(),
                "issue": issue_type_label(case.product_category, case.issue_type),
                "amount": _money(case.amount_in_dispute),
            },
            _("投诉人称：%(description)s") % {"description": case.description.strip()},
            _("投诉人请求：%(outcome)s") % {"outcome": case.requested_outcome.strip()},
        ]
        for answer in InstitutionAnswer.objects.filter(case=case).order_by("created_at", "pk"):
            lines.append(
                _("被投诉机构于%(date)s答复（%(outcome)s）：%(text)s")
                % {
                    "date": f"{timezone.localdate(answer.created_at):%Y年%m月%d日}",
                    "outcome": answer.get_outcome_display(),
                    "text": answer.text.strip(),
                }
            )
        failure = case.state_note.strip() or case.get_termination_reason_display()
    return {
        "basic_facts": "\n".join(lines),
        "undisputed_facts": "",
        "failure_reasons": failure,
        "cost_increasing_conduct": "",
        "notes_for_court": "",
    }


def content_hash(record: TerminationRecord) -> str:
    """SHA-256 of the record's text as drafted: the sign form carries it, so a signer signs what they read."""
    body = {name: getattr(record, name) for name in TEXT_FIELDS}
    body["reason"] = record.reason
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _clean(texts: dict[str, str]) -> dict[str, str]:
    cleaned = {name: (texts.get(name) or "").strip() for name in TEXT_FIELDS}
    for name in REQUIRED_FIELDS:
        if not cleaned[name]:
            raise TerminationError("required", _("此项为必填项。"), field=name)
    for name, value in cleaned.items():
        if len(value) > MAX_CHARS:
            raise TerminationError(
                "too_long",
                _("不能超过 %(limit)s 个字（现有 %(count)s 个）。") % {"limit": MAX_CHARS, "count": len(value)},
                field=name,
            )
    return cleaned


def _lock_case(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("institution", "centre").get(pk=case.pk)


def save_draft(case: Case, *, actor: User, texts: dict[str, str], ip: str | None = None) -> TerminationRecord:
    """Create or update the record of ``case``; refused before termination and after signing."""
    with transaction.atomic():
        case = _lock_case(case)
        _require_terminated(case)
        _require_drafter(actor, case)
        record = TerminationRecord.objects.select_for_update().filter(case=case).first()
        if record is not None and record.is_signed:
            raise TerminationError("signed", _("调解终结记录已签署，不能再修改。"))
        cleaned = _clean(texts)
        created = record is None
        if record is None:
            record = TerminationRecord(case=case, reason=case.termination_reason, drafted_by=actor)
        for name, value in cleaned.items():
            setattr(record, name, value)
        record.drafted_by = actor
        record.updated_at = timezone.now()
        record.save()
        ledger.record(
            "judicial.termination.drafted" if created else "judicial.termination.updated",
            actor=actor,
            case=case,
            ip=ip,
            data={"record": record.pk, "reason": record.reason, "content_hash": content_hash(record)},
        )
    return record


def record_of(case: Case) -> TerminationRecord | None:
    return TerminationRecord.objects.filter(case=case).select_related("signed_by", "drafted_by").first()


# --- the PDF ---------------------------------------------------------------------------------------


def _date(moment: datetime.datetime | None) -> str:
    return f"{timezone.localdate(moment):%Y年%m月%d日}" if moment else ""


def render_record(record: TerminationRecord) -> bytes:
    """The record as PDF; the same draft always gives the same bytes (dates and identifier from the draft)."""
    case = record.case
    digest = content_hash(record)
    with translation.override("zh-hans"):
        context = {
            "record": record,
            "case": case,
            "consumers": audience.consumers(case),
            "mediators": _active_mediators(case),
            "issue_label": issue_type_label(case.product_category, case.issue_type),
            "amount": _money(case.amount_in_dispute),
            "reason_label": record.get_reason_display(),
            "terminated_date": _date(terminated_at(case)),
            "record_date": _date(record.updated_at),
            "content_hash": digest,
            "created_w3c": record.created_at.isoformat(),
            "modified_w3c": record.updated_at.isoformat(),
        }
    identifier = hashlib.sha256(f"termination:{record.pk}:{digest}".encode()).hexdigest()[:32]
    return render_pdf(TEMPLATE, context, identifier=identifier)


def read_signed(record: TerminationRecord) -> bytes:
    """The signed file as stored, checked against the hash recorded when it was signed."""
    with record.signed_pdf.open("rb") as handle:
        data: bytes = handle.read()
    if hashlib.sha256(data).hexdigest() != record.signed_sha256:
        raise TerminationError("changed", _("已签署的调解终结记录文件与签署时记录的哈希值不一致，请联系系统管理员。"))
    return data


# --- signing ---------------------------------------------------------------------------------------


def document_key(record: TerminationRecord) -> str:
    return f"termination_record:{record.pk}"


def _signable(case: Case, user: User) -> TerminationRecord:
    _require_terminated(case)
    _require_drafter(user, case)
    record = record_of(case)
    if record is None:
        raise TerminationError("no_record", _("请先填写并保存调解终结记录。"))
    if record.is_signed:
        raise TerminationError("signed", _("调解终结记录已签署，不能再签署。"))
    return record


def request_code(case: Case, *, user: User) -> OneTimeCode:
    record = _signable(case, user)
    with translation.override("zh-hans"):
        action = _("签署案件 %(number)s 的调解终结记录") % {"number": case.number}
    try:
        return documents.request_code(user, document=document_key(record), action=action)
    except SigningError as error:
        raise TerminationError(error.code, error.message, field="code") from error


def seal(pdf: bytes, case: Case) -> bytes:
    """The centre's seal after the mediator's signature: the organisation's record (Art 21)."""
    with translation.override("zh-hans"):
        reason = _("调解组织出具调解终结记录")
    return signing_services.sign_in_new_field(
        pdf, SEAL_FIELD, pki.authority().seal_certificate(case.centre), reason=reason
    )


def sign_record(
    case: Case,
    *,
    user: User,
    password: str,
    code: str,
    seen_hash: str,
    origin: Origin = Origin(),  # noqa: B008 - immutable
) -> TerminationRecord:
    """The mediator signs the draft they read (``seen_hash``), then the centre's seal follows."""
    record = _signable(case, user)
    if seen_hash != content_hash(record):
        raise TerminationError("changed", _("记录在您阅读后已被修改，请重新核对后再签署。"))
    pdf = render_record(record)
    with translation.override("zh-hans"):
        reason = _("调解员签署调解终结记录")
    try:
        signature = documents.sign_document(
            pdf,
            case=case,
            user=user,
            document=document_key(record),
            field_name=MEDIATOR_FIELD,
            reason=reason,
            password=password,
            code=code,
            origin=origin,
            ledger_data={"record": record.pk, "content_hash": seen_hash},
        )
    except SigningError as error:
        raise TerminationError(error.code, error.message, field=error.field) from error
    return store_signed_record(
        record,
        unsigned=pdf,
        signed=seal(signature.pdf, case),
        signer=user,
        seen_hash=seen_hash,
        certificate_serial=signature.certificate_serial,
        ip=origin.ip,
    )


def store_signed_record(
    record: TerminationRecord,
    *,
    unsigned: bytes,
    signed: bytes,
    signer: User,
    seen_hash: str,
    certificate_serial: str,
    ip: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> TerminationRecord:
    """Store the signed file if the draft is still the one signed and nobody signed meanwhile."""
    digest = hashlib.sha256(signed).hexdigest()
    with transaction.atomic():
        case = _lock_case(record.case)
        record = TerminationRecord.objects.select_for_update().get(pk=record.pk)
        if record.is_signed:
            raise TerminationError("signed", _("调解终结记录已由他人签署。"))
        if content_hash(record) != seen_hash:
            raise TerminationError("changed", _("记录在您阅读后已被修改，请重新核对后再签署。"))
        now = timezone.now()
        record.pdf.save(f"termination-record-{record.pk}-draft.pdf", ContentFile(unsigned), save=False)
        record.pdf_sha256 = hashlib.sha256(unsigned).hexdigest()
        record.signed_pdf.save(f"termination-record-{record.pk}-{digest[:16]}.pdf", ContentFile(signed), save=False)
        record.signed_sha256 = digest
        record.signed_sm3 = sm3_hex(signed)
        record.signed_by = signer
        record.signed_at = now
        record.certificate_serial = certificate_serial
        record.save(
            update_fields=[
                "pdf",
                "pdf_sha256",
                "signed_pdf",
                "signed_sha256",
                "signed_sm3",
                "signed_by",
                "signed_at",
                "certificate_serial",
            ]
        )
        ledger.record(
            "judicial.termination.signed",
            actor=signer,
            case=case,
            ip=ip,
            data={
                "record": record.pk,
                "content_hash": seen_hash,
                "sha256": digest,
                "sm3": record.signed_sm3,
                "certificate_serial": certificate_serial,
                "sealed_by": case.centre.name,
                **(evidence or {}),
            },
        )
        _tell(
            audience.both_sides(case) + audience.case_managers(case),
            "judicial.termination.signed",
            _("案件 %(number)s 的调解终结记录已由调解员签署并加盖调解组织电子印章，可在案件页面查看和下载。")
            % {"number": case.number},
            case,
        )
    return record


def _tell(people: Sequence[User], kind: str, message: str, case: Case) -> None:
    recipients = list(people)
    transaction.on_commit(lambda: notify(recipients, kind, message, case=case), robust=True)


# --- the litigation-referral package -----------------------------------------------------------------


def may_use_referral(user: User, case: Case) -> bool:
    """Everyone on the case: the parties (the institution's agents too), its mediators, the case managers."""
    return user.is_authenticated and user.has_perm(permissions.VIEW, case)


def build_referral(case: Case, *, actor: User, ip: str | None = None) -> ReferralPackage:
    """Build, sign and store the package once; building again returns the stored one.

    Not addressed to a court (``court`` is None in the manifest): the party who sues files it with
    whichever court the Civil Procedure Law gives jurisdiction; Art 205's venue rules are for
    confirmation, not litigation.
    """
    if not may_use_referral(actor, case):
        raise TerminationError("not_party", _("只有本案当事人、调解员和调解中心可以生成诉讼材料包。"))
    existing = ReferralPackage.objects.filter(case=case).first()
    if existing is not None:
        return existing
    _require_terminated(case)
    record = record_of(case)
    if record is None or not record.is_signed:
        raise TerminationError("not_signed", _("调解终结记录尚未签署，不能生成诉讼材料包。"))
    # Hashing every file and signing the manifest take a while: outside the transaction.
    try:
        built = packages.build_package(case, purpose="referral", court=None)
    except packages.PackageError as error:
        raise TerminationError(error.code, error.message) from error
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        manifest_sha256 = hashlib.sha256(archive.read(packages.MANIFEST)).hexdigest()
    try:
        with transaction.atomic():
            case = _lock_case(case)
            referral = ReferralPackage(
                case=case,
                record=record,
                built_by=actor,
                package_size=len(built.zip_bytes),
                package_sha256=built.sha256,
                package_sm3=built.sm3,
                manifest_sha256=manifest_sha256,
            )
            referral.package.save(built.file_name, ContentFile(built.zip_bytes), save=False)
            referral.save()
            ledger.record(
                "judicial.referral.built",
                actor=actor,
                case=case,
                ip=ip,
                data={
                    "package": referral.pk,
                    "record": record.pk,
                    "package_sha256": built.sha256,
                    "package_sm3": built.sm3,
                    "manifest_sha256": manifest_sha256,
                },
            )
            _tell(
                audience.both_sides(case) + audience.mediators(case),
                "judicial.referral.built",
                _("案件 %(number)s 的诉讼材料包已生成，可在案件页面下载，向人民法院起诉时提交。")
                % {"number": case.number},
                case,
            )
    except IntegrityError:
        # Two people pressed "build" together: the other one's package stands; drop our file.
        referral.package.storage.delete(referral.package.name)
        return ReferralPackage.objects.get(case=case)
    return referral
