"""Signing the final agreement: prepare the PDF, then one signature per slot in stage order.

在线调解规则 Art 19: the parties and the mediator sign, the mediation organisation seals, the
agreement takes effect when all have signed; Art 25(7): a refusal to sign ends mediation.
电子签名法 Art 13: each signature uses a key only that signer's verified session can use (an event
certificate issued after password + one-time code, its key destroyed after the one signature),
and every later change is detectable (incremental PDF revisions; the seal locks the document).

Order: stage 1 the parties (consumers and the institution, in any order among themselves),
stage 2 the mediators, stage 3 the centre's seal. The server enforces it at signing time, not the
notifications (notes P15).

Concurrency: the PDF is signed outside any transaction (it takes a few hundred milliseconds) on
top of the latest revision; the new revision is then stored only if that revision is still the
latest (compare-and-swap on the locked agreement row, backed by the unique revision number). A
signer who lost the race signs again on top of the winner's revision, so both signatures end up
in the PDF, in order, and no revision is lost.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
from io import BytesIO

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers

from mediation import audience, otp, permissions
from mediation import services as case_services
from mediation.ledger import sm3_hex
from mediation.models import Case, CaseParticipant, Organisation, TerminationReason, User
from mediation.notifications import notify
from signing import appearance, evidence, pki, render, signals, tsa
from signing.evidence import Origin
from signing.keys import key_service
from signing.models import Agreement, IssuedCertificate, PdfRevision, SignatureSlot, SigningEvent

logger = logging.getLogger(__name__)

Slot = SignatureSlot
MAX_RACE_RETRIES = 8


class SigningError(Exception):
    """Refused; ``code`` is stable for API clients, ``field`` names the form field when there is one."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _digests(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), sm3_hex(data)


# --- preparing --------------------------------------------------------------------------------


def signing_plan(agreement: Agreement) -> list[SignatureSlot]:
    """The unsaved slots in their fixed order: consumers, the institution, mediators, the seal."""
    case = agreement.case
    slots: list[SignatureSlot] = []

    def add(role: str, stage: int, field_name: str, label: str, **who: object) -> None:
        slots.append(
            SignatureSlot(
                agreement=agreement,
                position=len(slots),
                stage=stage,
                role=role,
                field_name=field_name,
                label=label,
                **who,  # type: ignore[arg-type]
            )
        )

    active = case.participants.filter(removed_at__isnull=True).select_related("user").order_by("joined_at", "pk")
    consumers = [p.user for p in active if p.capacity == CaseParticipant.Capacity.CONSUMER]
    mediators = sorted(
        (
            p
            for p in active
            if p.capacity in {CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR}
        ),
        key=lambda p: p.capacity != CaseParticipant.Capacity.LEAD_MEDIATOR,
    )
    for n, user in enumerate(consumers, start=1):
        add(Slot.Role.CONSUMER, Slot.STAGE_PARTIES, f"consumer-{n}", user.display_name, user=user)
    add(
        Slot.Role.INSTITUTION,
        Slot.STAGE_PARTIES,
        "institution",
        case.institution.name,
        organisation=case.institution,
    )
    for n, participant in enumerate(mediators, start=1):
        add(
            Slot.Role.MEDIATOR,
            Slot.STAGE_MEDIATORS,
            f"mediator-{n}",
            participant.user.display_name,
            user=participant.user,
        )
    add(Slot.Role.CENTRE, Slot.STAGE_SEAL, "centre-seal", case.centre.name, organisation=case.centre)
    return slots


def _store_revision(agreement: Agreement, number: int, data: bytes, slot: SignatureSlot | None) -> PdfRevision:
    sha256, sm3 = _digests(data)
    revision = PdfRevision(agreement=agreement, number=number, slot=slot, size=len(data), sha256=sha256, sm3=sm3)
    revision.file.save(f"agreement-r{number}-{sha256[:16]}.pdf", ContentFile(data), save=False)
    revision.save()
    return revision


def prepare_signing(agreement: Agreement, *, actor: User | None, ip: str | None = None) -> Agreement:
    """Render the final version and add every signature field; then signing may start.

    Runs outside request transactions (rendering takes about half a second). Idempotent: a second
    call, or a call racing the first, leaves the first result.
    """
    agreement = Agreement.objects.select_related("case", "final_version").get(pk=agreement.pk)
    if agreement.final_version is None:
        raise SigningError("not_final", _("协议尚未定稿，不能进入签署。"))
    if agreement.revisions.exists():
        return agreement
    slots = signing_plan(agreement)
    rendered = render.render_agreement(agreement.final_version, slots)
    prepared = render.add_signature_fields(rendered.pdf, rendered.placements, seal_field=slots[-1].field_name)
    placements = {p.field_name: p for p in rendered.placements}
    try:
        with transaction.atomic():
            agreement = Agreement.objects.select_for_update().select_related("case").get(pk=agreement.pk)
            if agreement.revisions.exists():
                return agreement
            if agreement.state != Agreement.State.DRAFTING:
                raise SigningError("state", _("协议当前状态不能进入签署。"))
            for slot in slots:
                slot.page = placements[slot.field_name].page
                slot.box = list(placements[slot.field_name].box)
                slot.save()
            revision = _store_revision(agreement, 0, prepared, None)
            agreement.rendered_sha256, agreement.rendered_sm3 = rendered.sha256, rendered.sm3
            agreement.rendered_at = timezone.now()
            agreement.state = Agreement.State.SIGNING
            agreement.save(update_fields=["rendered_sha256", "rendered_sm3", "rendered_at", "state"])
            data = {
                "version": agreement.final_version.number if agreement.final_version else None,
                "content_hash": agreement.final_content_hash,
                "rendered_sha256": rendered.sha256,
                "rendered_sm3": rendered.sm3,
                "prepared_sha256": revision.sha256,
                "prepared_sm3": revision.sm3,
                "fields": [s.field_name for s in slots],
            }
            evidence.record(
                agreement,
                SigningEvent.Kind.RENDERED,
                actor=actor,
                origin=Origin(ip=ip),
                data=data,
                action="signing.agreement.rendered",
            )
            _tell_next_signers(agreement)
    except IntegrityError:
        # A concurrent call stored revision 0 first.
        agreement.refresh_from_db()
    return agreement


# --- who signs now --------------------------------------------------------------------------


def _may_sign_slot(user: User, slot: SignatureSlot, case: Case) -> bool:
    if slot.role in {Slot.Role.CONSUMER, Slot.Role.MEDIATOR}:
        return slot.user_id == user.pk and user.has_perm(
            permissions.TAKE_PART if slot.role == Slot.Role.CONSUMER else permissions.MEDIATE, case
        )
    if slot.role == Slot.Role.INSTITUTION:
        return user.has_perm(permissions.ANSWER, case)
    return user.has_perm(permissions.MANAGE, case)


def slots_for(user: User, agreement: Agreement) -> list[SignatureSlot]:
    """Every slot this person signs (or signed), whatever the stage."""
    case = agreement.case
    return [s for s in agreement.slots.all() if _may_sign_slot(user, s, case)]


def open_stage(agreement: Agreement) -> int | None:
    pending = [s.stage for s in agreement.slots.all() if s.status == Slot.Status.PENDING]
    return min(pending) if pending else None


def next_slot(user: User, agreement: Agreement) -> SignatureSlot | None:
    """The slot this person may sign right now, if any."""
    if agreement.state != Agreement.State.SIGNING:
        return None
    stage = open_stage(agreement)
    for slot in slots_for(user, agreement):
        if slot.status == Slot.Status.PENDING and slot.stage == stage:
            return slot
    return None


def _slot_to_act_on(user: User, agreement: Agreement) -> SignatureSlot:
    """The slot for a request by ``user`` now, or the precise reason why there is none."""
    if agreement.state == Agreement.State.VOID:
        raise SigningError("void", _("该协议的签署已作废。"))
    if agreement.state == Agreement.State.EFFECTIVE:
        raise SigningError("complete", _("协议已由各方签署完毕并生效。"))
    if agreement.state != Agreement.State.SIGNING:
        raise SigningError("state", _("协议尚未进入签署。"))
    mine = slots_for(user, agreement)
    if not mine:
        raise SigningError("not_signer", _("您不是本协议的签署方。"))
    slot = next_slot(user, agreement)
    if slot is not None:
        return slot
    if all(s.status == Slot.Status.SIGNED for s in mine):
        raise SigningError("already_signed", _("您已签署本协议，不能重复签署。"))
    raise SigningError(
        "out_of_order", _("尚未轮到您签署：须先由各方当事人签署，再由调解员签署，最后加盖调解组织印章。")
    )


def code_purpose(slot: SignatureSlot) -> str:
    return f"sign:{slot.pk}"


def request_code(agreement: Agreement, *, user: User, origin: Origin) -> tuple[SignatureSlot, str]:
    """Send the one-time code for this person's next signature; returns the slot and masked destination."""
    slot = _slot_to_act_on(user, agreement)
    try:
        record = otp.send_code(
            user, purpose=code_purpose(slot), action=_("签署调解协议（%(number)s）") % {"number": agreement.case.number}
        )
    except otp.CodeError as error:
        raise SigningError(error.code, error.message, field="code") from error
    evidence.record(
        agreement,
        SigningEvent.Kind.CODE_SENT,
        actor=user,
        origin=origin,
        slot=slot,
        data={"channel": record.channel, "destination": record.destination},
    )
    return slot, record.destination


def _verify_person(
    agreement: Agreement, slot: SignatureSlot, *, user: User, password: str, code: str, origin: Origin
) -> None:
    """Re-authentication (password) plus the one-time code; failures are recorded as evidence."""
    try:
        otp.check_code(user, purpose=code_purpose(slot), code=code, password_ok=user.check_password(password or ""))
    except otp.CodeError as error:
        evidence.record(
            agreement, SigningEvent.Kind.CODE_FAILED, actor=user, origin=origin, slot=slot, data={"reason": error.code}
        )
        raise SigningError(
            error.code, error.message, field="password" if error.code == "password" else "code"
        ) from error


# --- signing ---------------------------------------------------------------------------------


def _certificate_for(slot: SignatureSlot, user: User) -> IssuedCertificate:
    authority = pki.authority()
    if slot.role in {Slot.Role.CONSUMER, Slot.Role.MEDIATOR}:
        return authority.issue_event_certificate(user)
    return authority.seal_certificate(_organisation(slot))


def _organisation(slot: SignatureSlot) -> Organisation:
    if slot.organisation is None:
        raise SigningError("no_organisation", _("该签署栏没有对应的机构。"))
    return slot.organisation


def _appearance(slot: SignatureSlot, user: User, day: datetime.date) -> object:
    if slot.role in {Slot.Role.INSTITUTION, Slot.Role.CENTRE}:
        return appearance.seal_appearance(_organisation(slot))
    # The agreement is a Chinese legal document whatever language the signer reads the site in.
    with translation.override("zh-hans"):
        caption = str(slot.get_role_display())
    return appearance.signer_appearance(user.display_name, caption, day)


def sign_pdf(
    data: bytes,
    *,
    field_name: str,
    certificate: IssuedCertificate,
    stamp: object | None,
    reason: str,
    seal: bool,
) -> bytes:
    """One PAdES signature (B-T; B-LTA for the seal) in a new incremental update."""
    with translation.override("zh-hans"):
        location = _("枫桥金融纠纷在线调解平台")
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        embed_validation_info=seal,
        use_pades_lta=seal,
        validation_context=pki.authority().validation_context() if seal else None,
    )
    pdf_signer = signers.PdfSigner(
        metadata,
        signer=key_service().signer_for(certificate),
        timestamper=tsa.timestamper(),
        stamp_style=stamp,  # type: ignore[arg-type]
    )
    output = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(data)))
    return output.getvalue()  # type: ignore[union-attr]


def _already_done(agreement: Agreement, user: User, request_token: str) -> SignatureSlot | None:
    """A retried request (same token) that already signed returns that signature."""
    if not request_token:
        return None
    event = (
        SigningEvent.objects.filter(
            agreement=agreement, actor=user, kind=SigningEvent.Kind.SIGNED, data__request_token=request_token
        )
        .select_related("slot")
        .first()
    )
    return event.slot if event else None


def sign(
    agreement: Agreement,
    *,
    user: User,
    password: str,
    code: str,
    seen_sha256: str,
    request_token: str = "",
    origin: Origin = Origin(),  # noqa: B008
) -> SignatureSlot:
    """Sign this person's next slot. Returns the signed slot."""
    agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
    done = _already_done(agreement, user, request_token)
    if done is not None:
        return done
    slot = _slot_to_act_on(user, agreement)
    seen = agreement.revisions.filter(sha256=seen_sha256).first()
    if seen is None:
        raise SigningError(
            "unknown_document", _("您查看的协议文本与本协议不符，请刷新页面后重新查看再签署。"), field="seen_sha256"
        )
    _verify_person(agreement, slot, user=user, password=password, code=code, origin=origin)
    return _sign_verified(
        agreement,
        slot,
        user=user,
        seen=seen,
        request_token=request_token,
        origin=origin,
        verification={"otp_verified": True, "reauthenticated": True},
    )


def _sign_verified(
    agreement: Agreement,
    slot: SignatureSlot,
    *,
    user: User,
    seen: PdfRevision,
    request_token: str,
    origin: Origin,
    verification: dict[str, object],
) -> SignatureSlot:
    """Sign once the person has been verified; ``verification`` says how (kept as evidence)."""
    certificate = _certificate_for(slot, user)
    now = timezone.now()
    stamp = _appearance(slot, user, timezone.localdate(now))
    seal = slot.role == Slot.Role.CENTRE
    with translation.override("zh-hans"):
        reason = _("加盖调解组织电子印章") if seal else _("同意本调解协议")
    try:
        for _attempt in range(MAX_RACE_RETRIES):
            base = latest_revision(agreement)
            if base is None:
                raise SigningError("state", _("协议尚未进入签署。"))
            with base.file.open("rb") as handle:
                base_bytes = handle.read()
            signed = sign_pdf(
                base_bytes, field_name=slot.field_name, certificate=certificate, stamp=stamp, reason=reason, seal=seal
            )
            try:
                stored = _store_signature(
                    agreement,
                    slot,
                    base=base,
                    signed=signed,
                    user=user,
                    certificate=certificate,
                    seen=seen,
                    request_token=request_token,
                    origin=origin,
                    verification=verification,
                )
            except _LostRace:
                continue
            return stored
        raise SigningError("busy", _("签署人数较多，请稍后重试。"))
    finally:
        key_service().after_signing(certificate)


class _LostRace(Exception):
    pass


def _store_signature(
    agreement: Agreement,
    slot: SignatureSlot,
    *,
    base: PdfRevision,
    signed: bytes,
    user: User,
    certificate: IssuedCertificate,
    seen: PdfRevision,
    request_token: str,
    origin: Origin,
    verification: dict[str, object],
) -> SignatureSlot:
    try:
        with transaction.atomic():
            locked = Agreement.objects.select_for_update().select_related("case").get(pk=agreement.pk)
            latest = locked.revisions.order_by("-number").first()
            if latest is None or latest.pk != base.pk:
                raise _LostRace
            slot = _slot_to_act_on(user, locked)  # order and state again, under the lock
            revision = _store_revision(locked, base.number + 1, signed, slot)
            slot.status = Slot.Status.SIGNED
            slot.signed_by = user
            slot.signed_at = timezone.now()
            slot.save(update_fields=["status", "signed_by", "signed_at"])
            data = {
                "field": slot.field_name,
                **verification,
                "seen_revision": seen.number,
                "seen_sha256": seen.sha256,
                "seen_sm3": seen.sm3,
                "base_revision": base.number,
                "base_sha256": base.sha256,
                "after_revision": revision.number,
                "after_sha256": revision.sha256,
                "after_sm3": revision.sm3,
                "certificate_serial": certificate.serial,
                "certificate_subject": certificate.subject,
                "request_token": request_token,
            }
            evidence.record(
                locked,
                SigningEvent.Kind.SIGNED,
                actor=user,
                origin=origin,
                slot=slot,
                data=data,
                action="signing.agreement.signed",
            )
            if open_stage(locked) is None:
                _take_effect(locked, user=user, revision=revision, ip=origin.ip)
            else:
                _tell_next_signers(locked)
    except IntegrityError as error:
        # PostgreSQL: a concurrent writer took this revision number between our check and insert.
        raise _LostRace from error
    return slot


def _take_effect(agreement: Agreement, *, user: User, revision: PdfRevision, ip: str | None) -> None:
    """在线调解规则 Art 19: the last signature makes the agreement effective (inside the lock)."""
    now = timezone.now()
    agreement.state = Agreement.State.EFFECTIVE
    agreement.effective_at = now
    agreement.save(update_fields=["state", "effective_at"])
    evidence.record(
        agreement,
        SigningEvent.Kind.EFFECTIVE,
        actor=user,
        origin=Origin(ip=ip),
        data={"final_revision": revision.number, "final_sha256": revision.sha256, "final_sm3": revision.sm3},
    )
    case_services.record_agreement_effective(agreement.case, actor=user, effective_at=now, ip=ip)
    # Inside the lock: whatever the receivers write (the due items) commits with the signature.
    signals.agreement_effective.send(sender=Agreement, agreement=agreement)


def _tell_next_signers(agreement: Agreement) -> None:
    stage = open_stage(agreement)
    if stage is None:
        return
    case = agreement.case
    people: list[User] = []
    for slot in agreement.slots.filter(stage=stage, status=Slot.Status.PENDING):
        if slot.role == Slot.Role.INSTITUTION:
            people += audience.institution_people(case)
        elif slot.role == Slot.Role.CENTRE:
            people += audience.case_managers(case)
        elif slot.user is not None:
            people.append(slot.user)
    message = _("调解协议等待您签署，请登录后核对协议文本并完成签署。")
    transaction.on_commit(lambda: notify(people, "signing.agreement.to_sign", message, case=case), robust=True)


# --- declining -------------------------------------------------------------------------------


def decline(
    agreement: Agreement,
    *,
    user: User,
    password: str,
    code: str,
    reason: str,
    origin: Origin = Origin(),  # noqa: B008
) -> Agreement:
    """A party refuses to sign: the signing is void and mediation ends (在线调解规则 Art 25(7))."""
    reason = (reason or "").strip()
    agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
    if agreement.state != Agreement.State.SIGNING:
        _slot_to_act_on(user, agreement)  # raises the precise reason
    slot = next(
        (s for s in slots_for(user, agreement) if s.status == Slot.Status.PENDING and s.stage == Slot.STAGE_PARTIES),
        None,
    )
    if slot is None:
        raise SigningError("not_party", _("只有尚未签署的当事人可以拒绝签署。"))
    if not reason:
        raise SigningError("reason_required", _("请说明拒绝签署的理由。"), field="reason")
    if len(reason) > 1000:
        raise SigningError("reason_too_long", _("理由不能超过 1000 字。"), field="reason")
    _verify_person(agreement, slot, user=user, password=password, code=code, origin=origin)
    with transaction.atomic():
        locked = Agreement.objects.select_for_update().select_related("case").get(pk=agreement.pk)
        if locked.state != Agreement.State.SIGNING:
            raise SigningError("state", _("协议当前状态不能拒绝签署。"))
        slot.refresh_from_db()
        if slot.status != Slot.Status.PENDING:
            raise SigningError("already_signed", _("您已签署本协议，不能再拒绝签署。"))
        slot.status = Slot.Status.DECLINED
        slot.save(update_fields=["status"])
        locked.state = Agreement.State.VOID
        locked.voided_at = timezone.now()
        locked.void_reason = reason
        locked.save(update_fields=["state", "voided_at", "void_reason"])
        data = {"field": slot.field_name, "reason": reason, "otp_verified": True}
        evidence.record(
            locked,
            SigningEvent.Kind.DECLINED,
            actor=user,
            origin=origin,
            slot=slot,
            data=data,
            action="signing.agreement.declined",
        )
        case_services.terminate_mediation(
            locked.case, actor=user, reason=TerminationReason.REFUSED_TO_SIGN, note=reason, ip=origin.ip
        )
        case = locked.case
        everyone = audience.participants(case) + audience.institution_people(case) + audience.case_managers(case)
        message = _("%(who)s拒绝签署调解协议，签署已作废，调解终止。理由：%(reason)s") % {
            "who": slot.label,
            "reason": reason,
        }
        transaction.on_commit(lambda: notify(everyone, "signing.agreement.declined", message, case=case), robust=True)
    return locked


# --- long-term validation ----------------------------------------------------------------------


def archive_timestamp_expiry(data: bytes) -> datetime.datetime | None:
    """When the certificate of the newest document timestamp expires (None: no document timestamp)."""
    reader = PdfFileReader(BytesIO(data))
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None
    expiry = stamps[-1].signer_cert["tbs_certificate"]["validity"]["not_after"].native
    return expiry if isinstance(expiry, datetime.datetime) else None


def renew_archive_timestamp(agreement: Agreement, *, actor: User | None = None) -> PdfRevision:
    """Add validation data and a new document timestamp over the whole sealed file (PAdES B-LTA).

    A B-LTA file stays verifiable only while its newest document timestamp does: before that
    timestamp's certificate expires (or its algorithms weaken), the chain is extended with a new
    one. Nothing signed changes; the result is one more stored revision.
    """
    for _attempt in range(MAX_RACE_RETRIES):
        agreement = Agreement.objects.select_related("case").get(pk=agreement.pk)
        if agreement.state != Agreement.State.EFFECTIVE:
            raise SigningError("state", _("只有已生效的协议才需要续加存档时间戳。"))
        base = latest_revision(agreement)
        if base is None:
            raise SigningError("state", _("协议尚未进入签署。"))
        with base.file.open("rb") as handle:
            data = handle.read()
        before = archive_timestamp_expiry(data)
        output = signers.PdfTimeStamper(tsa.timestamper()).update_archival_timestamp_chain(
            PdfFileReader(BytesIO(data)), pki.authority().validation_context(), in_place=False
        )
        renewed = output.getvalue()
        try:
            with transaction.atomic():
                locked = Agreement.objects.select_for_update().select_related("case").get(pk=agreement.pk)
                latest = latest_revision(locked)
                if latest is None or latest.pk != base.pk:
                    continue
                revision = _store_revision(locked, base.number + 1, renewed, None)
                after = archive_timestamp_expiry(renewed)
                evidence.record(
                    locked,
                    SigningEvent.Kind.ARCHIVE_TIMESTAMP,
                    actor=actor,
                    data={
                        "base_revision": base.number,
                        "base_sha256": base.sha256,
                        "after_revision": revision.number,
                        "after_sha256": revision.sha256,
                        "after_sm3": revision.sm3,
                        "previous_timestamp_expires": before.isoformat() if before else None,
                        "timestamp_expires": after.isoformat() if after else None,
                    },
                    action="signing.agreement.archive_timestamp",
                )
                return revision
        except IntegrityError:
            continue
    raise SigningError("busy", _("签署人数较多，请稍后重试。"))


# --- documents --------------------------------------------------------------------------------


def latest_revision(agreement: Agreement) -> PdfRevision | None:
    return agreement.revisions.order_by("-number").first()


def signing_report(agreement: Agreement) -> bytes:
    """The 签署报告 PDF, sealed by the centre (a B-T signature with its seal certificate)."""
    report = render.render_signing_report(agreement)
    centre: Organisation = agreement.case.centre
    with translation.override("zh-hans"):
        reason = _("调解组织出具签署报告")
    return sign_in_new_field(report, "report-seal", pki.authority().seal_certificate(centre), reason=reason)


def sign_in_new_field(data: bytes, field_name: str, certificate: IssuedCertificate, *, reason: str) -> bytes:
    """Add an invisible signature field and sign it (PAdES B-T): reports, rulings, applications."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    fields.append_signature_field(writer, fields.SigFieldSpec(field_name))
    buffer = BytesIO()
    writer.write(buffer)
    return sign_pdf(
        buffer.getvalue(), field_name=field_name, certificate=certificate, stamp=None, reason=reason, seal=False
    )


def new_request_token() -> str:
    return secrets.token_urlsafe(16)
