"""The pre-flight check before a judicial-confirmation application is exported.

It lists exactly what is missing or wrong, each problem with how to fix it, and export is refused
until the list is empty. The rules:
- 民事诉讼法 Art 205: a joint application within 30 days of the agreement taking effect (the
  ``JUDICIAL_CONFIRMATION`` clock of ``mediation.clocks``), to a court Art 205 allows
  (``judicial_link.venue``); the joint consent is the agreement's clause
  ``judicial_confirmation_consent``.
- 在线调解规则 Art 19 and 电子签名法 Art 13: the agreement is effective and the stored PDF still
  proves it: its latest revision has the recorded hash, every signature and document timestamp
  verifies, every signature field is signed by the certificate of the slot's signer, the centre's
  seal included.
- 司法确认程序规定 Art 3: the application form, the agreement, identity and qualification proofs
  (the institution's business licence and its legal representative's certificate), service
  addresses and phones, and a power of attorney for anyone acting through an agent; in practice
  also each party's undertaking of truthfulness (承诺书).

Documents the platform makes itself (the agreement and the signing report) are derived from the
agreement; the caller says which of the others are present. The institution always acts through
its staff (the 经办人 who signs with its seal), so its power of attorney is always required; a
consumer's only when the caller says an agent acts for them.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from judicial_link.venue import VenueError, VenueFacts, check_venue
from mediation import audience, clocks
from mediation.models import Case, CaseState, ClockKind, Deadline, Organisation, User
from sessions.models import MediationRecord, MediationSession
from sessions.record import side_label, waiting_for
from signing.models import Agreement, IssuedCertificate, SignatureSlot
from signing.services import latest_revision
from signing.verify import VerificationError, verify_pdf

# The reminder steps for this clock: a warning from 10 days left, sharper at 3 and at 1.
WINDOW_WARNINGS = {10: "window_10_days", 3: "window_3_days", 1: "window_1_day"}
OPEN_STATUSES = (Deadline.Status.RUNNING, Deadline.Status.PAUSED)

APPLICATION_FORM = "application_form"
AGREEMENT = "agreement"
SIGNING_REPORT = "signing_report"
BUSINESS_LICENCE = "business_licence"
LEGAL_REPRESENTATIVE_CERTIFICATE = "legal_representative_certificate"
INSTITUTION_UNDERTAKING = "undertaking:institution"
INSTITUTION_POWER_OF_ATTORNEY = "power_of_attorney:institution"


def consumer_undertaking(consumer: User) -> str:
    return f"undertaking:consumer:{consumer.pk}"


def consumer_power_of_attorney(consumer: User) -> str:
    return f"power_of_attorney:consumer:{consumer.pk}"


@dataclass(frozen=True)
class Problem:
    code: str  # stable, for API clients and tests
    message: str  # what is wrong
    fix: str  # how to put it right
    subject: str = ""  # the party, document or signature field concerned


@dataclass(frozen=True)
class RequiredDocument:
    code: str
    label: str
    how: str  # how to provide it
    derived: bool = False  # the platform produces it from the signed agreement


@dataclass(frozen=True)
class DocumentCheck:
    document: RequiredDocument
    present: bool


@dataclass(frozen=True)
class PreflightResult:
    problems: list[Problem]
    days_left: int | None  # calendar days to the last day of the window; 0 on the last day
    due_date: datetime.date | None  # last day of the window (inclusive)
    warnings: list[Problem] = field(default_factory=list)  # the window closing soon; not blocking
    documents: list[DocumentCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def required_documents(case: Case, *, consumer_agents: Collection[int] = ()) -> list[RequiredDocument]:
    """Every document the application needs (司法确认程序规定 Art 3), in the order of the package.

    ``consumer_agents``: user ids of consumers who act through an agent (委托代理人).
    """
    institution = case.institution
    consumers = sorted(audience.consumers(case), key=lambda user: user.pk)
    documents = [
        RequiredDocument(APPLICATION_FORM, _("司法确认申请书"), _("在平台生成司法确认申请书，由双方当事人签署。")),
        RequiredDocument(
            AGREEMENT, _("已生效的调解协议（签署版PDF）"), _("由平台根据各方签署的协议自动提供。"), derived=True
        ),
        RequiredDocument(
            SIGNING_REPORT, _("签署报告"), _("由平台根据签署记录自动生成，并加盖调解中心电子印章。"), derived=True
        ),
    ]
    for consumer in consumers:
        names = {"name": consumer.display_name}
        documents.append(
            RequiredDocument(
                consumer_undertaking(consumer),
                _("投诉人%(name)s签署的承诺书") % names,
                _("请%(name)s在平台阅读并签署承诺书（保证如实陈述、所交材料真实，知悉虚假调解的法律后果）。") % names,
            )
        )
    names = {"name": institution.name}
    documents.append(
        RequiredDocument(
            INSTITUTION_UNDERTAKING,
            _("%(name)s签署的承诺书") % names,
            _("请机构经办人在平台阅读承诺书，并以%(name)s的电子印章签署。") % names,
        )
    )
    documents.append(
        RequiredDocument(
            BUSINESS_LICENCE,
            _("%(name)s的营业执照副本") % names,
            _("请机构经办人上传加盖机构公章的营业执照副本。"),
        )
    )
    # A branch is run by its person in charge (负责人), a head office by its legal representative.
    if institution.parent_id is not None:
        certificate = _("%(name)s负责人身份证明书") % names
    else:
        certificate = _("%(name)s法定代表人身份证明书") % names
    documents.append(
        RequiredDocument(
            LEGAL_REPRESENTATIVE_CERTIFICATE,
            certificate,
            _("请机构经办人上传加盖机构公章的法定代表人（分支机构为负责人）身份证明书。"),
        )
    )
    documents.append(
        RequiredDocument(
            INSTITUTION_POWER_OF_ATTORNEY,
            _("%(name)s出具的授权委托书") % names,
            _("机构由经办人代为申请，请上传加盖机构公章、写明委托事项和权限的授权委托书（司法确认程序规定第三条）。"),
        )
    )
    for consumer in consumers:
        if consumer.pk in consumer_agents:
            names = {"name": consumer.display_name}
            documents.append(
                RequiredDocument(
                    consumer_power_of_attorney(consumer),
                    _("投诉人%(name)s出具的授权委托书") % names,
                    _(
                        "委托他人代为申请的，请上传由%(name)s签名、写明委托事项和权限的授权委托书（司法确认程序规定第三条）。"
                    )
                    % names,
                )
            )
    return documents


def preflight(
    case: Case,
    *,
    court: Organisation | None = None,
    documents: Mapping[str, bool] | None = None,
    today: datetime.date | None = None,
    facts: VenueFacts | None = None,
    consumer_agents: Collection[int] = (),
) -> PreflightResult:
    """Everything that stands in the way of applying now, each problem with its fix.

    ``documents`` maps the codes of ``required_documents`` that are not derived to whether the
    document is present; codes it leaves out count as missing; derived codes and codes the case
    does not require raise ``ValueError`` (a caller's mistake, not the applicants'). ``facts`` and ``consumer_agents`` go to the venue check and the document
    list. Reading only: nothing is written.
    """
    today = today or timezone.localdate()
    case = Case.objects.select_related("institution", "centre", "delegating_court").get(pk=case.pk)
    agreement = Agreement.objects.filter(case=case).select_related("final_version").prefetch_related("slots").first()
    problems: list[Problem] = []
    warnings: list[Problem] = []

    due_date, days_left = _check_window(case, today, problems, warnings)
    _check_case_state(case, problems)
    _check_agreement(agreement, problems)
    _check_consent(agreement, problems)
    _check_venue(case, court, facts, problems)
    _check_identity(case, problems)
    _check_mediation_records(case, problems)
    checks = _document_checks(case, agreement, documents or {}, consumer_agents)
    for check in checks:
        # Derived documents are missing only when the agreement is, which the agreement problems cover.
        if not check.present and not check.document.derived:
            problems.append(
                Problem(
                    "missing_document",
                    _("缺少材料：%(document)s。") % {"document": check.document.label},
                    check.document.how,
                    subject=check.document.code,
                )
            )
    return PreflightResult(
        problems=problems, days_left=days_left, due_date=due_date, warnings=warnings, documents=checks
    )


# --- the window -----------------------------------------------------------------------------


def _check_window(
    case: Case, today: datetime.date, problems: list[Problem], warnings: list[Problem]
) -> tuple[datetime.date | None, int | None]:
    deadline = (
        Deadline.objects.filter(case=case, kind=ClockKind.JUDICIAL_CONFIRMATION).order_by("-created_at", "-pk").first()
    )
    if deadline is None:
        if case.state == CaseState.AGREEMENT_EFFECTIVE:
            problems.append(
                Problem(
                    "window_unknown",
                    _("本案没有申请司法确认的期限记录，无法确定30日期限。"),
                    _("请联系调解中心核对调解协议的生效时间并恢复期限记录。"),
                )
            )
        return None, None
    if deadline.status not in (*OPEN_STATUSES, Deadline.Status.EXPIRED):
        # Met (an application was made) or cancelled: the case state says why no application is possible.
        return deadline.due_date, None
    left = clocks.remaining(deadline, today).days
    due = {"due": deadline.due_date.isoformat(), "days": left}
    if left < 0 or deadline.status == Deadline.Status.EXPIRED:
        problems.append(
            Problem(
                "window_closed",
                _("申请司法确认的30日期限已于%(due)s届满（民事诉讼法第二百零五条），不能再申请。") % due,
                _(
                    "期限届满后不能再申请司法确认。一方不履行调解协议的，另一方可以就调解协议的履行或内容向人民法院提起诉讼（人民调解法第三十二条）。"
                ),
            )
        )
        return deadline.due_date, left
    step = next((days for days in sorted(WINDOW_WARNINGS) if left <= days), None)
    if step is not None:
        if left == 0:
            message = _("今天（%(due)s）是申请司法确认的最后一天。") % due
        else:
            message = _("距申请司法确认的期限届满还有%(days)s天，%(due)s为最后一天。") % due
        warnings.append(Problem(WINDOW_WARNINGS[step], message, _("请尽快备齐材料并提交申请，逾期不能再申请。")))
    if deadline.provisional:
        warnings.append(
            Problem(
                "window_provisional",
                _("截止日期所在年份的节假日安排尚未公布，%(due)s是按周一至周五推算的，公布后可能调整。") % due,
                _("请按此日期安排，不要等到最后一天。"),
            )
        )
    return deadline.due_date, left


# --- the case and the agreement -----------------------------------------------------------------


def _check_case_state(case: Case, problems: list[Problem]) -> None:
    if case.state == CaseState.AGREEMENT_EFFECTIVE:
        return
    already = {CaseState.CONFIRMATION_APPLIED, CaseState.CONFIRMED, CaseState.CONFIRMATION_REJECTED}
    if case.state in already:
        fix = _("本案已提出过司法确认申请，不能重复申请。")
    elif case.state in {CaseState.PERFORMING, CaseState.CLOSED, CaseState.TERMINATED, CaseState.NOT_ACCEPTED}:
        fix = _("本案已不在可以申请司法确认的阶段。")
    else:
        fix = _("请先达成调解协议并由各方签署，协议生效后再申请。")
    problems.append(
        Problem(
            "wrong_case_state",
            _("案件当前状态为「%(state)s」，只有调解协议已生效的案件可以申请司法确认。")
            % {"state": case.get_state_display()},
            fix,
        )
    )


def _check_agreement(agreement: Agreement | None, problems: list[Problem]) -> None:
    if agreement is None:
        problems.append(
            Problem(
                "no_agreement",
                _("本案还没有调解协议。"),
                _("请调解员起草并定稿调解协议，由各方签署生效后再申请。"),
            )
        )
        return
    if agreement.state != Agreement.State.EFFECTIVE:
        pending = [slot.label for slot in agreement.slots.all() if slot.status == SignatureSlot.Status.PENDING]
        if agreement.state == Agreement.State.SIGNING and pending:
            fix = _("请以下签署方完成签署：%(who)s。") % {"who": _("、").join(pending)}
        elif agreement.state == Agreement.State.VOID:
            fix = _("协议已作废，不能据以申请司法确认。")
        else:
            fix = _("请调解员定稿调解协议并组织各方签署。")
        problems.append(
            Problem(
                "agreement_not_effective",
                _("调解协议尚未生效（当前状态：%(state)s）。") % {"state": agreement.get_state_display()},
                fix,
            )
        )
        return
    _check_signed_file(agreement, problems)


def _check_signed_file(agreement: Agreement, problems: list[Problem]) -> None:
    """The latest stored revision: recorded hash, every signature, every slot signed by its own signer."""
    restore = _("存储的协议文件可能已被替换或损坏。请联系平台管理员从备份恢复签署时的文件，不要重新上传或重新签署。")
    revision = latest_revision(agreement)
    data: bytes | None = None
    if revision is not None:
        try:
            with revision.file.open("rb") as handle:
                data = handle.read()
        except OSError:
            data = None
    if revision is None or data is None:
        problems.append(Problem("agreement_file_missing", _("找不到已签署的调解协议文件。"), restore))
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != revision.sha256:
        problems.append(
            Problem(
                "agreement_file_altered",
                _("存储的调解协议文件与签署时记录的哈希值不一致（记录 %(recorded)s，实际 %(actual)s）。")
                % {"recorded": revision.sha256[:16], "actual": actual[:16]},
                restore,
                subject=f"revision:{revision.number}",
            )
        )
    try:
        report = verify_pdf(data, size_limit=False)
    except VerificationError as error:
        problems.append(Problem("signature_invalid", error.message, restore))
        return
    signatures = {check.field_name: check for check in report.signatures}
    for check in report.signatures:
        if not check.ok:
            problems.append(
                Problem(
                    "signature_invalid",
                    _("签名「%(field)s」（%(signer)s）未通过验证：%(verdict)s")
                    % {"field": check.field_name, "signer": check.signer, "verdict": check.verdict},
                    restore,
                    subject=check.field_name,
                )
            )
    for stamp in report.timestamps:
        if not stamp.ok:
            problems.append(
                Problem(
                    "timestamp_invalid",
                    _("文档时间戳「%(field)s」未通过验证，或加盖时间戳后文件被修改过。") % {"field": stamp.field_name},
                    restore,
                    subject=stamp.field_name,
                )
            )
    slots = list(agreement.slots.all())
    known = {slot.field_name for slot in slots}
    certificates = {
        certificate.serial: certificate
        for certificate in IssuedCertificate.objects.filter(serial__in=[check.serial for check in report.signatures])
    }
    for slot in slots:
        found = signatures.get(slot.field_name)
        if found is None:
            seal = slot.role == SignatureSlot.Role.CENTRE
            problems.append(
                Problem(
                    "seal_missing" if seal else "signature_missing",
                    (_("协议文件中没有%(who)s的电子印章。") if seal else _("协议文件中没有%(who)s的签名。"))
                    % {"who": slot.label},
                    restore,
                    subject=slot.field_name,
                )
            )
        elif not _signed_by_slot_signer(slot, certificates.get(found.serial)):
            problems.append(
                Problem(
                    "signer_mismatch",
                    _("签名栏「%(field)s」的签名不是用%(who)s的证书签署的。")
                    % {"field": slot.field_name, "who": slot.label},
                    restore,
                    subject=slot.field_name,
                )
            )
    for name in report.unsigned_fields:
        if name not in known:
            problems.append(
                Problem(
                    "signature_missing",
                    _("协议文件中的签名栏「%(field)s」尚未签署。") % {"field": name},
                    restore,
                    subject=name,
                )
            )


def _signed_by_slot_signer(slot: SignatureSlot, certificate: IssuedCertificate | None) -> bool:
    if certificate is None:
        return False
    if slot.role in {SignatureSlot.Role.CONSUMER, SignatureSlot.Role.MEDIATOR}:
        return certificate.kind == IssuedCertificate.Kind.EVENT and certificate.user_id == slot.user_id
    return certificate.kind == IssuedCertificate.Kind.SEAL and certificate.organisation_id == slot.organisation_id


def _check_consent(agreement: Agreement | None, problems: list[Problem]) -> None:
    """民事诉讼法 Art 205: a joint application; the parties agreed to it in the agreement they signed."""
    version = agreement.final_version if agreement is not None else None
    if version is None or version.terms.get("judicial_confirmation_consent") is True:
        return
    problems.append(
        Problem(
            "no_joint_consent",
            _("调解协议中没有双方同意共同申请司法确认的条款。"),
            _(
                "司法确认须由双方共同申请。已签署的协议不能修改：如双方都同意申请，请调解员起草载明该条款的补充协议，由各方签署后再申请。"
            ),
        )
    )


# --- the court, the parties, the documents ----------------------------------------------------------


def _check_venue(case: Case, court: Organisation | None, facts: VenueFacts | None, problems: list[Problem]) -> None:
    if court is None:
        problems.append(Problem("no_court", _("尚未选择受理申请的法院。"), _("请在本案可以申请的法院中选择一家。")))
        return
    try:
        check_venue(case, court, facts=facts)
    except VenueError as error:
        problems.append(
            Problem(
                "venue_not_allowed",
                error.message,
                _("请改选本案可以申请的法院（民事诉讼法第二百零五条）。"),
                subject=f"court:{court.pk}",
            )
        )


def _check_identity(case: Case, problems: list[Problem]) -> None:
    """Each party identified: the consumers verified with their ID, the institution by its credit code."""
    for consumer in sorted(audience.consumers(case), key=lambda user: user.pk):
        names = {"name": consumer.display_name}
        subject = f"consumer:{consumer.pk}"
        if consumer.identity_verified_at is None:
            problems.append(
                Problem(
                    "identity_not_verified",
                    _("投诉人%(name)s的实名核验没有记录。") % names,
                    _("请调解中心核验%(name)s的身份证件与本人是否一致，并在平台记录核验结果。") % names,
                    subject=subject,
                )
            )
        if not consumer.id_number_encrypted:
            problems.append(
                Problem(
                    "id_number_missing",
                    _("投诉人%(name)s没有登记身份证号码，申请书须载明。") % names,
                    _("请%(name)s在账户资料中补充身份证号码。") % names,
                    subject=subject,
                )
            )
        if not consumer.phone:
            problems.append(
                Problem(
                    "contact_missing",
                    _("投诉人%(name)s没有登记手机号码，申请书须载明联系电话。") % names,
                    _("请%(name)s在账户资料中补充并验证手机号码。") % names,
                    subject=subject,
                )
            )
    if not case.service_address_confirmed_at:
        problems.append(
            Problem(
                "contact_missing",
                _("投诉人尚未确认电子送达地址。"),
                _("请投诉人在案件页面确认电子送达地址。"),
                subject="service_address",
            )
        )
    institution = case.institution
    if not institution.credit_code:
        problems.append(
            Problem(
                "identity_not_verified",
                _("被投诉机构%(name)s没有登记统一社会信用代码。") % {"name": institution.name},
                _("请平台管理员在机构资料中补充与营业执照一致的统一社会信用代码。"),
                subject="institution",
            )
        )


def _check_mediation_records(case: Case, problems: list[Problem]) -> None:
    """在线调解规则 Art 22: every sitting held has its record, confirmed by the parties and sealed."""
    sittings = MediationSession.objects.filter(case=case, state=MediationSession.State.CLOSED).order_by("number")
    found = {record.session_id: record for record in MediationRecord.objects.filter(session__in=sittings)}
    for sitting in sittings:
        record = found.get(sitting.pk)
        names = {"number": sitting.number}
        subject = f"session:{sitting.pk}"
        if record is None or record.state == MediationRecord.State.DRAFT:
            problems.append(
                Problem(
                    "mediation_record_missing",
                    _("第 %(number)s 场调解没有经当事人确认的调解笔录。") % names,
                    _("请调解员制作并定稿第 %(number)s 场调解的调解笔录，由各方当事人在线确认。") % names,
                    subject=subject,
                )
            )
        elif record.state == MediationRecord.State.FINALISED:
            waiting = "、".join(side_label(side, case) for side in waiting_for(record))
            problems.append(
                Problem(
                    "mediation_record_unconfirmed",
                    _("第 %(number)s 场调解的调解笔录尚未经各方当事人确认。") % names,
                    _("请以下当事人在线确认调解笔录：%(who)s。") % {"who": waiting},
                    subject=subject,
                )
            )
        elif not record.is_sealed:
            problems.append(
                Problem(
                    "mediation_record_unsealed",
                    _("第 %(number)s 场调解的调解笔录已经确认，但尚未加盖调解中心电子印章。") % names,
                    _("请平台管理员运行 manage.py seal_mediation_records 补盖印章。"),
                    subject=subject,
                )
            )


def _document_checks(
    case: Case, agreement: Agreement | None, documents: Mapping[str, bool], consumer_agents: Collection[int]
) -> list[DocumentCheck]:
    required = required_documents(case, consumer_agents=consumer_agents)
    codes = {document.code for document in required if not document.derived}
    unknown = sorted(set(documents) - codes)
    if unknown:
        raise ValueError(f"document codes not accepted for this case (derived or not required): {', '.join(unknown)}")
    signed = agreement is not None and agreement.state == Agreement.State.EFFECTIVE
    return [
        DocumentCheck(document, signed if document.derived else bool(documents.get(document.code, False)))
        for document in required
    ]
