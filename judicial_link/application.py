"""The parties prepare their joint application on the platform (民事诉讼法 Art 205; 司法确认程序规定 Art 3).

A draft per case holds the venue facts (each consumer's domicile, the subject matter's place), the
court chosen among those Art 205 allows, and the documents: the application form (司法确认申请书)
signed by every applicant in one PDF, one undertaking (承诺书) per party signed by that party, and
the institution's scans (business licence, legal-representative certificate, powers of attorney).
Signing is password + a one-time code for that document (``signing.documents``): a consumer signs
with a one-signature certificate, the institution's agent with the institution's seal.

Changing the facts or the court after someone signed the form voids the form: it names the court,
so it is rendered again and everyone signs again. Two applicants signing the form at the same time
both land: the second signs again on top of the first (compare-and-swap on the stored file's hash).

Submitting hands the files to ``services.submit_application``, whose pre-flight check must pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from judicial_link import preflight, services, venue
from judicial_link.models import ApplicationDocument, ApplicationDraft, ConfirmationApplication
from judicial_link.package import PackageFile
from judicial_link.services import ApplicationError
from mediation import audience, ledger, permissions
from mediation.evidence_checks import UploadRejected, sniff_upload
from mediation.models import Case, CaseParticipant, CaseState, Organisation, User
from mediation.notifications import notify
from signing import documents as signed_documents
from signing import services as signing_services
from signing.evidence import Origin
from signing.models import Agreement
from signing.render import render_pdf
from signing.services import SigningError

INSTITUTION = "institution"
MAX_CAS_RETRIES = 5
FORM = preflight.APPLICATION_FORM
UPLOADED_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def consumer_key(user: User) -> str:
    return f"consumer:{user.pk}"


def party_key(user: User, case: Case) -> str | None:
    """``consumer:<id>`` for a consumer on the case, ``institution`` for its agents, else None."""
    if case.participants.filter(
        user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
    ).exists():
        return consumer_key(user)
    if user.has_perm(permissions.ANSWER, case):
        return INSTITUTION
    return None


def applicant_keys(case: Case) -> list[str]:
    return [consumer_key(user) for user in sorted(audience.consumers(case), key=lambda u: u.pk)] + [INSTITUTION]


def _require_party(user: User, case: Case) -> str:
    key = party_key(user, case)
    if key is None:
        raise ApplicationError("not_party", _("只有本案当事人可以准备司法确认申请。"))
    return key


def _require_open(case: Case) -> None:
    if case.state != CaseState.AGREEMENT_EFFECTIVE:
        raise ApplicationError("not_open", _("案件当前状态不能申请司法确认（须为调解协议已生效且尚未申请）。"))


def draft_for(case: Case) -> ApplicationDraft:
    """The case's open draft, created on first use."""
    draft = ApplicationDraft.objects.filter(case=case, application__isnull=True).first()
    if draft is not None:
        return draft
    try:
        with transaction.atomic():
            return ApplicationDraft.objects.create(case=case)
    except IntegrityError:  # created meanwhile by the other party
        return ApplicationDraft.objects.get(case=case, application__isnull=True)


def venue_facts(draft: ApplicationDraft) -> venue.VenueFacts:
    domiciles = draft.facts.get("consumer_domiciles", {})
    return venue.VenueFacts(
        consumer_domiciles={int(pk): entry.get("region", "") for pk, entry in domiciles.items()},
        subject_matter_region=draft.facts.get("subject_matter_region", ""),
    )


def _void_form(draft: ApplicationDraft, *, user: User, why: str) -> bool:
    """Delete the form (it names the court and the facts); True if someone had signed it."""
    form = draft.documents.filter(code=FORM).first()
    if form is None:
        return False
    had_signatures = bool(form.signed_by)
    form.delete()
    if had_signatures:
        ledger.record("judicial.application.form_voided", actor=user, case=draft.case, data={"why": why})
        others = [person for person in audience.both_sides(draft.case) if person.pk != user.pk]
        message = _("司法确认申请的法院或管辖事实已变更，此前的申请书签名作废，请重新签署。")
        transaction.on_commit(lambda: notify(others, "judicial.application", message, case=draft.case), robust=True)
    return had_signatures


# --- venue facts and the court ------------------------------------------------------------------


def _clean_region(value: Any, field: str) -> str:
    region = venue.normalise_region(value if isinstance(value, str) else "")
    if len(region) > 100:
        raise ApplicationError("too_long", _("地区名称最多 100 字。"), field=field)
    return region


def set_facts(
    case: Case,
    *,
    user: User,
    domicile_address: str = "",
    domicile_region: str = "",
    subject_matter_region: str = "",
    through_agent: bool = False,
) -> tuple[ApplicationDraft, bool]:
    """A consumer records their own domicile (住所) and whether an agent acts for them; either side
    the subject matter's place. Returns the draft and whether signatures were voided."""
    key = _require_party(user, case)
    _require_open(case)
    region = _clean_region(domicile_region, "domicile_region")
    place = _clean_region(subject_matter_region, "subject_matter_region")
    address = (domicile_address or "").strip()
    if key != INSTITUTION:
        if not region:
            raise ApplicationError("required", _("请填写住所地所在的省、市、区县。"), field="domicile_region")
        if not address or len(address) > 200:
            raise ApplicationError("required", _("请填写住所地址（最多 200 字）。"), field="domicile_address")
    with transaction.atomic():
        draft = ApplicationDraft.objects.select_for_update().get(pk=draft_for(case).pk)
        before = (venue_facts(draft), list(draft.consumer_agents))
        facts = dict(draft.facts)
        if key != INSTITUTION:
            facts["consumer_domiciles"] = {
                **facts.get("consumer_domiciles", {}),
                str(user.pk): {"address": address, "region": region},
            }
            agents = set(draft.consumer_agents) - {user.pk} | ({user.pk} if through_agent else set())
            draft.consumer_agents = sorted(agents)
        if place or key == INSTITUTION:
            facts["subject_matter_region"] = place
        draft.facts = facts
        voided = False
        if (venue_facts(draft), list(draft.consumer_agents)) != before:
            if draft.court is not None and draft.court not in [
                o.court for o in venue.allowed_courts(case, facts=venue_facts(draft))
            ]:
                draft.court = None
            voided = _void_form(draft, user=user, why="facts")
        draft.save()
        ledger.record(
            "judicial.application.facts", actor=user, case=case, data={"facts": facts, "agents": draft.consumer_agents}
        )
    return draft, voided


def choose_court(case: Case, *, user: User, court_pk: Any) -> tuple[ApplicationDraft, bool]:
    _require_party(user, case)
    _require_open(case)
    with transaction.atomic():
        draft = ApplicationDraft.objects.select_for_update().get(pk=draft_for(case).pk)
        options = {str(option.court.pk): option for option in venue.allowed_courts(case, facts=venue_facts(draft))}
        option = options.get(str(court_pk))
        if option is None:
            raise ApplicationError("venue", _("请从依民事诉讼法第二百零五条可以受理的法院中选择。"), field="court")
        voided = False
        if draft.court_id != option.court.pk:
            draft.court = option.court
            voided = _void_form(draft, user=user, why="court")
            draft.save()
            ledger.record(
                "judicial.application.court",
                actor=user,
                case=case,
                data={"court": option.court.pk, "grounds": list(option.grounds)},
            )
    return draft, voided


# --- documents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signable:
    code: str
    signer_key: str  # who signs: "consumer:<id>" / "institution"; "*" for the form (every applicant)


def signables(case: Case) -> list[Signable]:
    items = [Signable(FORM, "*")]
    items += [Signable(preflight.consumer_undertaking(user), consumer_key(user)) for user in audience.consumers(case)]
    items.append(Signable(preflight.INSTITUTION_UNDERTAKING, INSTITUTION))
    return items


def uploadable_codes(case: Case, key: str, draft: ApplicationDraft) -> list[str]:
    """What ``key``'s side uploads: the institution its papers, a consumer with an agent the power of attorney."""
    if key == INSTITUTION:
        return [
            preflight.BUSINESS_LICENCE,
            preflight.LEGAL_REPRESENTATIVE_CERTIFICATE,
            preflight.INSTITUTION_POWER_OF_ATTORNEY,
        ]
    user_id = int(key.split(":", 1)[1])
    return [f"power_of_attorney:consumer:{user_id}"] if user_id in draft.consumer_agents else []


def _read(document: ApplicationDocument) -> bytes:
    with document.file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def _effective_agreement(case: Case) -> Agreement:
    agreement = Agreement.objects.filter(case=case, state=Agreement.State.EFFECTIVE).first()
    if agreement is None:
        raise ApplicationError("no_agreement", _("案件尚无已生效的调解协议。"))
    return agreement


def render_application_form(case: Case, court: Organisation, *, domiciles: dict[str, Any] | None = None) -> bytes:
    """司法确认申请书 naming the court, the parties and the signed agreement's hash (always Chinese)."""
    agreement = _effective_agreement(case)
    latest = signing_services.latest_revision(agreement)
    now = timezone.now()
    consumers = audience.consumers(case)
    with translation.override("zh-hans"):
        context = {
            "case": case,
            "court": court,
            "consumers": consumers,
            "domiciles": {user.pk: (domiciles or {}).get(str(user.pk), {}).get("address", "") for user in consumers},
            "effective_date": f"{timezone.localdate(agreement.effective_at or now):%Y年%m月%d日}",
            "agreement_sha256": latest.sha256 if latest else "",
            "created_w3c": now.isoformat(),
            "modified_w3c": now.isoformat(),
        }
    identifier = hashlib.sha256(f"application:{case.pk}:{now.isoformat()}".encode()).hexdigest()[:32]
    return render_pdf("judicial_link/pdf/application_form.html", context, identifier=identifier)


def render_undertaking(case: Case, key: str) -> bytes:
    """承诺书 of one party (always Chinese)."""
    now = timezone.now()
    if key == INSTITUTION:
        party = {
            "name": case.institution.name,
            "id_label": "统一社会信用代码",
            "id": case.institution.credit_code or "",
        }
    else:
        user = User.objects.get(pk=int(key.split(":", 1)[1]))
        party = {"name": user.display_name, "id_label": "公民身份号码", "id": user.id_number_masked}
    with translation.override("zh-hans"):
        context = {
            "case": case,
            "party": party,
            "today": f"{timezone.localdate(now):%Y年%m月%d日}",
            "created_w3c": now.isoformat(),
        }
    identifier = hashlib.sha256(f"undertaking:{case.pk}:{key}:{now.isoformat()}".encode()).hexdigest()[:32]
    return render_pdf("judicial_link/pdf/undertaking.html", context, identifier=identifier)


def _signable(case: Case, draft: ApplicationDraft, code: str, key: str) -> Signable:
    item = next((s for s in signables(case) if s.code == code), None)
    if item is None:
        raise ApplicationError("unknown_document", _("没有这份需要签署的文件。"), field="document")
    if item.signer_key not in ("*", key):
        raise ApplicationError("not_signer", _("这份文件应由另一方签署。"), field="document")
    if code == FORM:
        if draft.court is None:
            raise ApplicationError("no_court", _("请先选择受理法院，再签署申请书。"), field="document")
        form = draft.documents.filter(code=FORM).first()
        if form is not None and key in form.signed_by:
            raise ApplicationError("already_signed", _("您已签署这份文件。"), field="document")
    elif draft.documents.filter(code=code).exists():
        raise ApplicationError("already_signed", _("您已签署这份文件。"), field="document")
    return item


def _document_key(draft: ApplicationDraft, code: str) -> str:
    court = draft.court_id or 0
    return f"application:{draft.pk}:{court}:{code}"


def _title(case: Case, code: str) -> str:
    with translation.override("zh-hans"):
        return next((str(d.label) for d in preflight.required_documents(case) if d.code == code), code)


def request_code(case: Case, *, user: User, code: str) -> Any:
    key = _require_party(user, case)
    _require_open(case)
    draft = draft_for(case)
    _signable(case, draft, code, key)
    with translation.override("zh-hans"):
        action = _("签署案件 %(number)s 的%(title)s") % {"number": case.number, "title": _title(case, code)}
    try:
        return signed_documents.request_code(user, document=_document_key(draft, code), action=action)
    except SigningError as error:
        raise ApplicationError(error.code, error.message, field="code") from error


def sign(
    case: Case,
    *,
    user: User,
    code: str,
    password: str,
    otp: str,
    confirmed: bool,
    origin: Origin = Origin(),  # noqa: B008 - immutable
) -> ApplicationDocument:
    """Sign the form or this party's undertaking after password + one-time code."""
    key = _require_party(user, case)
    _require_open(case)
    draft = draft_for(case)
    _signable(case, draft, code, key)
    if not confirmed:
        field_message = (
            _("请确认双方依调解协议的约定共同申请司法确认。")
            if code == FORM
            else _("请确认您已阅读并同意承诺书的内容。")
        )
        raise ApplicationError("not_confirmed", field_message, field="confirmed")
    try:
        signed_documents.verify_signer(
            user, case=case, document=_document_key(draft, code), password=password, code=otp, origin=origin
        )
    except SigningError as error:
        raise ApplicationError(error.code, error.message, field=error.field) from error
    organisation = case.institution if key == INSTITUTION else None
    field_name = "applicant-institution" if key == INSTITUTION else f"applicant-consumer-{user.pk}"
    if code != FORM:
        field_name = "undertaking"
    with translation.override("zh-hans"):
        reason = _("共同申请司法确认") if code == FORM else _("签署承诺书")
    for _attempt in range(MAX_CAS_RETRIES):
        current = draft.documents.filter(code=code).first() if code == FORM else None
        base = (
            _read(current)
            if current is not None
            else (
                render_application_form(case, draft.court, domiciles=draft.facts.get("consumer_domiciles"))  # type: ignore[arg-type]
                if code == FORM
                else render_undertaking(case, key)
            )
        )
        signature = signed_documents.sign_verified(
            base,
            case=case,
            user=user,
            document=_document_key(draft, code),
            field_name=field_name,
            reason=reason,
            organisation=organisation,
            origin=origin,
            ledger_data={"draft": draft.pk, "code": code, "party": key},
        )
        stored = _store_signed(
            draft, code, key, user, expected=current.sha256 if current else None, signature=signature
        )
        if stored is not None:
            _tell_after_signing(case, draft, code, user)
            return stored
    raise ApplicationError("busy", _("文件正在被他人签署，请稍后重试。"))


def _store_signed(
    draft: ApplicationDraft,
    code: str,
    key: str,
    user: User,
    *,
    expected: str | None,
    signature: signed_documents.DocumentSignature,
) -> ApplicationDocument | None:
    """Store the new revision if the file signed on is still the current one; else None (retry)."""
    with transaction.atomic():
        locked = ApplicationDraft.objects.select_for_update().get(pk=draft.pk)
        current = locked.documents.filter(code=code).first()
        if (current.sha256 if current else None) != expected or locked.court_id != draft.court_id:
            return None
        document = current or ApplicationDocument(draft=locked, code=code, kind=ApplicationDocument.Kind.SIGNED)
        document.signed_by = [*document.signed_by, key]
        document.sha256 = signature.sha256
        document.updated_by = user
        document.file.save(f"{code.replace(':', '-')}.pdf", ContentFile(signature.pdf), save=False)
        document.save()
        return document


def _tell_after_signing(case: Case, draft: ApplicationDraft, code: str, user: User) -> None:
    if code != FORM:
        return
    form = draft.documents.get(code=FORM)
    waiting = [key for key in applicant_keys(case) if key not in form.signed_by]
    if not waiting:
        return
    people = [person for person in audience.both_sides(case) if party_key(person, case) in waiting]
    message = _("%(name)s 已签署司法确认申请书，请您签署。") % {"name": user.display_name}
    transaction.on_commit(lambda: notify(people, "judicial.application", message, case=case), robust=True)


def upload(case: Case, *, user: User, code: str, upload_file: UploadedFile | None) -> ApplicationDocument:
    """A scan the application needs (PDF, JPEG or PNG), through the evidence upload checks."""
    key = _require_party(user, case)
    _require_open(case)
    draft = draft_for(case)
    if code not in uploadable_codes(case, key, draft):
        raise ApplicationError("not_uploader", _("这份材料应由另一方上传，或当前无需上传。"), field="code")
    if upload_file is None:
        raise ApplicationError("required", _("请选择要上传的文件。"), field="file")
    try:
        checked = sniff_upload(upload_file)
    except UploadRejected as error:
        raise ApplicationError("rejected", str(error), field="file") from error
    extension = UPLOADED_EXTENSIONS.get(checked.content_type)
    if extension is None:
        raise ApplicationError("file_type", _("证照材料请上传 PDF、JPEG 或 PNG 文件。"), field="file")
    with transaction.atomic():
        locked = ApplicationDraft.objects.select_for_update().get(pk=draft.pk)
        document = locked.documents.filter(code=code).first() or ApplicationDocument(
            draft=locked, code=code, kind=ApplicationDocument.Kind.UPLOADED
        )
        upload_file.seek(0)
        document.file.save(f"{code.replace(':', '-')}.{extension}", upload_file, save=False)
        document.extension = extension
        document.sha256 = checked.sha256
        document.original_name = checked.safe_name
        document.updated_by = user
        document.save()
        ledger.record(
            "judicial.application.uploaded",
            actor=user,
            case=case,
            data={"code": code, "sha256": checked.sha256, "name": checked.safe_name, "type": checked.content_type},
        )
    return document


# --- the state of the draft and submission -------------------------------------------------------


def present_codes(draft: ApplicationDraft) -> dict[str, bool]:
    """Documents present for the pre-flight check: the form only when every applicant has signed."""
    required = {
        document.code
        for document in preflight.required_documents(draft.case, consumer_agents=draft.consumer_agents)
        if not document.derived
    }
    present = {}
    keys = applicant_keys(draft.case)
    for document in draft.documents.filter(code__in=required):
        present[document.code] = document.code != FORM or all(key in document.signed_by for key in keys)
    return present


def package_files(draft: ApplicationDraft) -> list[PackageFile]:
    present = present_codes(draft)
    files = []
    for document in draft.documents.order_by("code"):
        if not present.get(document.code):
            continue
        content = _read(document)
        if hashlib.sha256(content).hexdigest() != document.sha256:
            raise ApplicationError("changed", _("已保存的申请材料与记录的哈希值不一致，请重新上传或签署。"))
        path = f"application/{document.code.replace(':', '-')}.{document.extension}"
        files.append(
            PackageFile(path=path, doc_type=document.code, title=_title(draft.case, document.code), content=content)
        )
    return files


def preflight_result(case: Case) -> tuple[ApplicationDraft, preflight.PreflightResult]:
    draft = draft_for(case)
    result = preflight.preflight(
        case,
        court=draft.court,
        documents=present_codes(draft),
        facts=venue_facts(draft),
        consumer_agents=draft.consumer_agents,
    )
    return draft, result


def submit(case: Case, *, user: User, ip: str | None = None) -> ConfirmationApplication:
    _require_party(user, case)
    _require_open(case)
    draft = draft_for(case)
    if draft.court is None:
        raise ApplicationError("no_court", _("请先选择受理法院。"), field="court")
    application = services.submit_application(
        case,
        actor=user,
        court=draft.court,
        documents=package_files(draft),
        facts=venue_facts(draft),
        consumer_agents=draft.consumer_agents,
        ip=ip,
    )
    ApplicationDraft.objects.filter(pk=draft.pk).update(application=application)
    return application
