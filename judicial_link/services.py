"""Applications for judicial confirmation and the court's decisions on them.

民事诉讼法 Art 205: the parties apply jointly within 30 days of the agreement taking effect, to a
court the article allows; 司法确认程序规定 Art 4: the court decides within 3 days whether to accept;
Art 5 / 民事诉讼法 Art 206: it rules within 15 days (+10 with approval) — confirm the agreement or
reject the application. The court clocks run on the clock engine; every step is in the ledger and
moves the case through ``mediation.services``.

The court checks the package it receives without trusting us: the integrity check runs
``judicial_link.package.verify_package`` (per file, per signature) on the stored ZIP.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from judicial_link import package as packages
from judicial_link import preflight, venue, webhooks
from judicial_link.models import ConfirmationApplication
from mediation import audience, clocks, ledger, permissions
from mediation import services as case_services
from mediation.ledger import sm3_hex
from mediation.models import Case, ClockKind, Deadline, Organisation, Role, User
from mediation.notifications import notify
from mediation.services import CaseError
from signing import pki
from signing import services as signing_services
from signing.models import Agreement
from signing.render import render_pdf

State = ConfirmationApplication.State


class ApplicationError(CaseError):
    """Refused; ``code`` is stable, ``field`` names the form field when there is one."""

    def __init__(self, code: str, message: str, *, field: str | None = None, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.problems = list(problems)


def court_clerks(court: Organisation) -> list[User]:
    return list(User.objects.filter(role=Role.COURT_CLERK, organisation=court, is_active=True))


def court_of_open_application(case: Case) -> list[User]:
    application = (
        ConfirmationApplication.objects.filter(case=case, state__in=ConfirmationApplication.OPEN_STATES)
        .select_related("court")
        .first()
    )
    return court_clerks(application.court) if application else []


def _tell(people: Sequence[User], kind: str, message: str, case: Case) -> None:
    recipients = list(people)
    transaction.on_commit(lambda: notify(recipients, kind, message, case=case), robust=True)


def _parties_and_centre(case: Case) -> list[User]:
    return audience.both_sides(case) + audience.mediators(case) + audience.case_managers(case)


# --- the parties' application ----------------------------------------------------------------


def submit_application(
    case: Case,
    *,
    actor: User,
    court: Organisation,
    documents: Sequence[packages.PackageFile] = (),
    facts: venue.VenueFacts | None = None,
    consumer_agents: Collection[int] = (),
    ip: str | None = None,
) -> ConfirmationApplication:
    """Send the joint application with its package to ``court``.

    ``documents`` are the application's own files (application form, undertakings, business
    licence, legal-representative certificate, powers of attorney), each with its document code
    as ``doc_type``; a document counts as present only if its file is passed. The pre-flight
    check must pass: its problems are returned in the error, each with how to fix it.
    """
    # A party: a consumer on the case, or the institution's agents (who answer for it).
    if not (actor.has_perm(permissions.TAKE_PART, case) or actor.has_perm(permissions.ANSWER, case)):
        raise ApplicationError("not_party", _("只有本案当事人可以申请司法确认。"))
    present: Mapping[str, bool] = {document.doc_type: True for document in documents}
    result = preflight.preflight(case, court=court, documents=present, facts=facts, consumer_agents=consumer_agents)
    if not result.ok:
        raise ApplicationError(
            "preflight",
            _("尚不满足申请司法确认的条件：%(problems)s") % {"problems": "；".join(p.message for p in result.problems)},
            problems=result.problems,
        )
    option = venue.check_venue(case, court, facts=facts)
    # Building the package renders and seals the signing report: outside any transaction.
    built = packages.build_package(case, court=court, extra_files=documents)
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        manifest_sha256 = hashlib.sha256(archive.read("manifest.json")).hexdigest()
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if ConfirmationApplication.objects.filter(case=case, state__in=ConfirmationApplication.OPEN_STATES).exists():
            raise ApplicationError("already_applied", _("本案已向法院申请司法确认，不能重复申请。"))
        application = ConfirmationApplication(
            case=case,
            court=court,
            venue_grounds=list(option.grounds),
            submitted_by=actor,
            package_size=len(built.zip_bytes),
            package_sha256=built.sha256,
            package_sm3=built.sm3,
            manifest_sha256=manifest_sha256,
        )
        application.package.save(built.file_name, ContentFile(built.zip_bytes), save=False)
        application.save()
        case_services.record_confirmation_applied(case, actor=actor, ip=ip)
        clocks.start_clock(case, ClockKind.COURT_ACCEPTANCE)
        ledger.record(
            "judicial.application.submitted",
            actor=actor,
            case=case,
            ip=ip,
            data={
                "application": application.pk,
                "court": court.pk,
                "grounds": list(option.grounds),
                "package_sha256": built.sha256,
                "package_sm3": built.sm3,
                "manifest_sha256": manifest_sha256,
            },
        )
        _tell(
            court_clerks(court),
            "judicial.application.received",
            _("收到案件 %(number)s 的司法确认申请，请于三日内决定是否受理。") % {"number": case.number},
            case,
        )
        _tell(
            _parties_and_centre(case),
            "judicial.application.submitted",
            _("司法确认申请已提交%(court)s。") % {"court": court.name},
            case,
        )
        # The court's own system hears of it by webhook, if the court set one up.
        transaction.on_commit(lambda: webhooks.announce_submitted(application), robust=True)
    return application


# --- the court -------------------------------------------------------------------------------


def applications_for(user: User) -> QuerySet[ConfirmationApplication]:
    """The applications a court clerk's court received; nothing for anyone else."""
    if not user.is_authenticated or user.role != Role.COURT_CLERK or user.organisation_id is None:
        return ConfirmationApplication.objects.none()
    return ConfirmationApplication.objects.filter(court_id=user.organisation_id).select_related(
        "case", "case__institution", "court"
    )


def application_for_court_user(user: User, pk: int) -> ConfirmationApplication:
    application = applications_for(user).filter(pk=pk).first()
    if application is None:
        raise Http404
    return application


def deadlines(application: ConfirmationApplication) -> dict[str, Deadline | None]:
    found = {
        d.kind: d
        for d in application.case.deadlines.filter(kind__in=[ClockKind.COURT_ACCEPTANCE, ClockKind.COURT_RULING])
        .filter(start_date__gte=timezone.localdate(application.submitted_at))
        .order_by("pk")
    }
    return {"acceptance": found.get(ClockKind.COURT_ACCEPTANCE), "ruling": found.get(ClockKind.COURT_RULING)}


def check_integrity(application: ConfirmationApplication) -> ConfirmationApplication:
    """Verify the stored package as the court received it: per file, per signature, the manifest."""
    try:
        with application.package.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError as error:
        raise ApplicationError(
            "package_missing", _("找不到提交时保存的材料包文件，请联系调解中心重新提交。")
        ) from error
    problems: list[dict[str, Any]] = []
    if hashlib.sha256(data).hexdigest() != application.package_sha256:
        problems.append(
            {
                "code": "package_changed",
                "message": _("收到的材料包与提交时记录的指纹不一致。"),
                "path": application.package.name,
            }
        )
    try:
        report = packages.verify_package(data).as_dict()
    except packages.PackageUnreadableError as error:
        report = {"ok": False, "problems": [{"code": error.code, "message": str(error), "path": ""}], "files": []}
    report["problems"] = problems + list(report.get("problems", []))
    report["ok"] = bool(report.get("ok")) and not problems
    ConfirmationApplication.objects.filter(pk=application.pk).update(
        integrity_ok=report["ok"], integrity_report=report, integrity_checked_at=timezone.now()
    )
    application.refresh_from_db()
    return application


def _lock(application: ConfirmationApplication, clerk: User) -> ConfirmationApplication:
    locked = ConfirmationApplication.objects.select_for_update().select_related("case", "court").get(pk=application.pk)
    if clerk.role != Role.COURT_CLERK or clerk.organisation_id != locked.court_id:
        raise Http404
    return locked


def _require_state(application: ConfirmationApplication, *states: str) -> None:
    if application.state not in states:
        raise ApplicationError(
            "state", _("申请当前状态为「%(state)s」，不能办理此事项。") % {"state": application.get_state_display()}
        )


def accept(
    application: ConfirmationApplication, *, clerk: User, court_case_number: str, ip: str | None = None
) -> ConfirmationApplication:
    number = " ".join((court_case_number or "").split())
    if not number:
        raise ApplicationError("number_required", _("请填写法院案号。"), field="court_case_number")
    if len(number) > 60:
        raise ApplicationError("number_too_long", _("法院案号不能超过 60 个字。"), field="court_case_number")
    try:
        with transaction.atomic():
            application = _lock(application, clerk)
            _require_state(application, State.SUBMITTED)
            application.state = State.ACCEPTED
            application.court_case_number = number
            application.accepted_at = timezone.now()
            application.decided_by = clerk
            application.save(update_fields=["state", "court_case_number", "accepted_at", "decided_by"])
            case = application.case
            clocks.stop_clock(case, ClockKind.COURT_ACCEPTANCE)
            ruling = clocks.start_clock(case, ClockKind.COURT_RULING)
            ledger.record(
                "judicial.application.accepted",
                actor=clerk,
                case=case,
                ip=ip,
                data={"application": application.pk, "court_case_number": number},
            )
            _tell(
                _parties_and_centre(case),
                "judicial.application.accepted",
                _("%(court)s已受理司法确认申请，案号 %(number)s，将于 %(due)s 前作出裁定。")
                % {"court": application.court.name, "number": number, "due": ruling.due_date.isoformat()},
                case,
            )
    except IntegrityError as error:
        raise ApplicationError(
            "number_taken", _("本院已有案号为 %(number)s 的案件。") % {"number": number}, field="court_case_number"
        ) from error
    return application


def refuse(
    application: ConfirmationApplication, *, clerk: User, reason: str, ip: str | None = None
) -> ConfirmationApplication:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("reason_required", _("请说明不予受理的理由。"), field="reason")
    with transaction.atomic():
        application = _lock(application, clerk)
        _require_state(application, State.SUBMITTED)
        application.state = State.REFUSED
        application.refused_at = timezone.now()
        application.refusal_reason = reason
        application.decided_by = clerk
        application.save(update_fields=["state", "refused_at", "refusal_reason", "decided_by"])
        case = application.case
        clocks.stop_clock(case, ClockKind.COURT_ACCEPTANCE)
        ledger.record(
            "judicial.application.refused",
            actor=clerk,
            case=case,
            ip=ip,
            data={"application": application.pk, "reason": reason},
        )
        case_services.record_confirmation_ruling(
            case, actor=clerk, confirmed=False, reason=_("不予受理：%(reason)s") % {"reason": reason}, ip=ip
        )
    return application


def extend_ruling(
    application: ConfirmationApplication, *, clerk: User, approval_note: str, ip: str | None = None
) -> ConfirmationApplication:
    """司法确认程序规定 Art 5: 10 more days, with the approval recorded."""
    note = (approval_note or "").strip()
    if not note:
        raise ApplicationError("note_required", _("请记录延长审查期限的批准情况。"), field="approval_note")
    with transaction.atomic():
        application = _lock(application, clerk)
        _require_state(application, State.ACCEPTED)
        if application.ruling_extended_at is not None:
            raise ApplicationError("already_extended", _("审查期限已延长过一次，不能再延长。"), field="approval_note")
        deadline = clocks.open_clock(application.case, ClockKind.COURT_RULING)
        if deadline is None:
            raise ApplicationError("no_clock", _("审查期限已结束，不能延长。"), field="approval_note")
        clocks.extend_clock(deadline, 10)
        application.ruling_extended_at = timezone.now()
        application.ruling_extension_note = note
        application.save(update_fields=["ruling_extended_at", "ruling_extension_note"])
        ledger.record(
            "judicial.ruling.extended",
            actor=clerk,
            case=application.case,
            ip=ip,
            data={"application": application.pk, "note": note, "due": deadline.due_date.isoformat()},
        )
    return application


def _ruling_pdf(
    application: ConfirmationApplication, *, confirmed: bool, reasons: str, now: datetime.datetime
) -> bytes:
    case = application.case
    agreement = Agreement.objects.get(case=case)
    latest = signing_services.latest_revision(agreement)
    today = timezone.localdate(now)
    with translation.override("zh-hans"):
        context = {
            "application": application,
            "case": case,
            "consumers": audience.consumers(case),
            "confirmed": confirmed,
            "reasons": reasons,
            "agreement_sha256": latest.sha256 if latest else "",
            "effective_date": f"{timezone.localdate(agreement.effective_at):%Y年%m月%d日}"
            if agreement.effective_at
            else "",
            "submitted_date": f"{timezone.localdate(application.submitted_at):%Y年%m月%d日}",
            "ruled_date": f"{today:%Y年%m月%d日}",
            "created_w3c": now.isoformat(),
            "modified_w3c": now.isoformat(),
        }
    identifier = hashlib.sha256(f"ruling:{application.pk}:{now.isoformat()}".encode()).hexdigest()[:32]
    return render_pdf("judicial_link/pdf/ruling.html", context, identifier=identifier)


def _seal_by_court(pdf: bytes, court: Organisation) -> bytes:
    """The court's electronic seal (a seal certificate for the court from the key service)."""
    with translation.override("zh-hans"):
        reason = _("人民法院民事裁定")
    return signing_services.sign_in_new_field(pdf, "court-seal", pki.authority().seal_certificate(court), reason=reason)


def rule(
    application: ConfirmationApplication, *, clerk: User, confirmed: bool, reasons: str, ip: str | None = None
) -> ConfirmationApplication:
    """Confirm the agreement (裁定确认调解协议有效) or reject the application (驳回), with a signed ruling."""
    reasons = (reasons or "").strip()
    if not confirmed and not reasons:
        raise ApplicationError("reasons_required", _("驳回申请须写明理由。"), field="reasons")
    with transaction.atomic():
        current = _lock(application, clerk)
        _require_state(current, State.ACCEPTED)
    # Rendering and sealing take a second: outside the transaction, then stored if still undecided.
    now = timezone.now()
    pdf = _seal_by_court(_ruling_pdf(current, confirmed=confirmed, reasons=reasons, now=now), current.court)
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        application = _lock(application, clerk)
        _require_state(application, State.ACCEPTED)
        application.state = State.CONFIRMED if confirmed else State.REJECTED
        application.ruled_at = now
        application.ruling_reasons = reasons
        application.ruling_sha256 = digest
        application.decided_by = clerk
        application.ruling.save(f"ruling-{application.pk}-{digest[:16]}.pdf", ContentFile(pdf), save=False)
        application.save(update_fields=["state", "ruled_at", "ruling_reasons", "ruling_sha256", "decided_by", "ruling"])
        case = application.case
        clocks.stop_clock(case, ClockKind.COURT_RULING)
        ledger.record(
            "judicial.application.ruled",
            actor=clerk,
            case=case,
            ip=ip,
            data={
                "application": application.pk,
                "confirmed": confirmed,
                "reasons": reasons,
                "ruling_sha256": digest,
                "ruling_sm3": sm3_hex(pdf),
            },
        )
        case_services.record_confirmation_ruling(case, actor=clerk, confirmed=confirmed, reason=reasons, ip=ip)
    return application
