"""The agreement (调解协议书) and the signing report (签署报告) as PDF, and the empty signature fields.

Rendering takes about half a second and runs outside request transactions. The same final version
always renders to the same bytes: every date in the file comes from the version, the PDF
identifier from its content hash, and the text is always set in Chinese (it is a legal document,
whatever language the caller reads the site in) with the one pinned font of ``signing.fonts``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mediation.audience import consumers as case_consumers
from mediation.models import Case, CaseParticipant, Organisation, User
from mediators.neutrality import active_mediators
from signing.appearance import SEAL_BOX_MM, SIGNER_BOX_MM
from signing.fonts import PinnedFont, pinned_font, url_fetcher
from signing.models import Agreement, AgreementVersion, IssuedCertificate, SignatureSlot, SigningEvent
from signing.terms import WAIVER_KINDS, format_date

if TYPE_CHECKING:
    from weasyprint import Document

PDF_VARIANT = "pdf/a-3b"
ATTACHMENT_NAME = "agreement.json"
ATTACHMENT_FORMAT = "fengqiao.agreement/1"
# WeasyPrint lays out in CSS px (1/96 in); PDF user space is in points (1/72 in).
PX_TO_PT = 0.75
CSS_TEMPLATE = "signing/pdf/document.css"


@dataclass(frozen=True)
class FieldPlacement:
    field_name: str
    page: int  # 0-based
    box: tuple[float, float, float, float]  # PDF points, origin bottom-left (pyHanko SigFieldSpec box)


@dataclass(frozen=True)
class RenderedAgreement:
    pdf: bytes
    placements: list[FieldPlacement]
    sha256: str
    sm3: str


# --- the agreement --------------------------------------------------------------------------------


def render_agreement(version: AgreementVersion, slots: Sequence[SignatureSlot]) -> RenderedAgreement:
    """Render ``version`` with one signature box per slot; ``slots`` may be unsaved.

    Returns the PDF (PDF/A-3b with the terms attached as ``agreement.json``) and where each
    signature field goes, to be passed to ``add_signature_fields``.
    """
    import weasyprint

    agreement = version.agreement
    case = agreement.case
    ordered = sorted(slots, key=lambda s: s.position)
    font = pinned_font()
    with translation.override(settings.LANGUAGE_CODE):
        parties = _parties(case)
        verify_url = _verify_url(agreement)
        context = {
            "agreement": agreement,
            "case": case,
            "version": version,
            "parties": parties,
            "category": case.get_product_category_display(),
            "facts": _clean(version.facts),
            "dispute": _clean(version.dispute),
            "clauses": _clauses(version.terms, parties),
            "signature_boxes": [_signature_box(slot) for slot in ordered],
            "signer_box": SIGNER_BOX_MM,
            "seal_box": SEAL_BOX_MM,
            "verify_url": verify_url,
            "qr": _qr_code(verify_url),
            "finalised_on": _date_label(_local_date(agreement.finalised_at or version.created_at)),
            **_document_dates(version.created_at, agreement.finalised_at or version.created_at),
        }
        html = render_to_string("signing/pdf/agreement.html", context)
        css = _document_css(font)
        attachment = weasyprint.Attachment(
            string=_attachment_json(version, ordered, parties, font, verify_url),
            name=ATTACHMENT_NAME,
            description=_("调解协议条款（机器可读）"),
            relationship="Data",
            created=version.created_at,
            modified=version.created_at,
        )
    document, pdf = _write_pdf(html, css, font, identifier=version.content_hash[:32], attachments=[attachment])
    placements = _placements(document, ordered)
    return RenderedAgreement(
        pdf=pdf,
        placements=placements,
        sha256=hashlib.sha256(pdf).hexdigest(),
        sm3=hashlib.new("sm3", pdf).hexdigest(),
    )


@dataclass(frozen=True)
class _Person:
    name: str
    id_number_masked: str = ""
    lead: bool = False


@dataclass(frozen=True)
class _Parties:
    consumers: list[_Person]
    institution: Organisation
    agent: _Person | None
    mediators: list[_Person]
    centre: Organisation


def _parties(case: Case) -> _Parties:
    agent_participation = (
        case.participants.filter(removed_at__isnull=True, capacity=CaseParticipant.Capacity.INSTITUTION_AGENT)
        .select_related("user")
        .order_by("joined_at", "pk")
        .first()
    )
    agent: User | None = agent_participation.user if agent_participation else None
    if agent is None:
        # Without a named agent, whoever answered the complaint for the institution acts for it.
        answer = case.answers.select_related("agent").order_by("-created_at", "-id").first()
        agent = answer.agent if answer else None
    return _Parties(
        consumers=[_Person(u.display_name, u.id_number_masked) for u in case_consumers(case)],
        institution=case.institution,
        agent=_Person(agent.display_name) if agent else None,
        mediators=[
            _Person(p.user.display_name, lead=p.capacity == CaseParticipant.Capacity.LEAD_MEDIATOR)
            for p in active_mediators(case)
        ],
        centre=case.centre,
    )


def _clean(text: str) -> str:
    # Pitfall P3: U+2011 (non-breaking hyphen) stalls Pango's line breaking for tens of seconds.
    return unicodedata.normalize("NFC", text).replace("\u2011", "-").replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class _Clause:
    text: str
    table: list[dict[str, str]] | None = None
    total: str = ""


def _clauses(terms: Mapping[str, Any], parties: _Parties) -> list[_Clause]:
    """The agreed terms as numbered clauses (人民调解法 Art 29: the terms, how and by when performed)."""
    consumer_names = "、".join(p.name for p in parties.consumers) or _("申请人")
    institution = parties.institution.name
    payer_is_institution = terms.get("payer", "institution") != "consumer"
    payer, payee = (institution, consumer_names) if payer_is_institution else (consumer_names, institution)
    clauses: list[_Clause] = []

    amount = terms.get("payment_amount")
    instalments = terms.get("instalments") or []
    if amount is not None:
        money = {"payer": payer, "payee": payee, "amount": _money(amount), "words": amount_in_words(amount)}
        if instalments:
            text = _("%(payer)s向%(payee)s支付人民币 %(amount)s 元（大写：%(words)s），分 %(count)s 期支付：") % {
                **money,
                "count": len(instalments),
            }
            rows = [
                {"n": str(n), "due": format_date(row.get("due")), "amount": _money(row.get("amount"))}
                for n, row in enumerate(instalments, start=1)
            ]
            clauses.append(_Clause(text, table=rows, total=_money(amount)))
        elif terms.get("payment_due"):
            text = _("%(payer)s于 %(date)s 前向%(payee)s一次性支付人民币 %(amount)s 元（大写：%(words)s）。") % {
                **money,
                "date": format_date(terms["payment_due"]),
            }
            clauses.append(_Clause(text))
        else:
            clauses.append(_Clause(_("%(payer)s向%(payee)s支付人民币 %(amount)s 元（大写：%(words)s）。") % money))

    for row in terms.get("waivers") or []:
        kind = str(WAIVER_KINDS.get(row.get("kind", ""), row.get("kind", "")))
        text = _("%(institution)s同意减免%(consumer)s%(kind)s人民币 %(amount)s 元。") % {
            "institution": institution,
            "consumer": consumer_names,
            "kind": kind,
            "amount": _money(row.get("amount")),
        }
        if row.get("description"):
            text = _("%(clause)s（%(description)s）") % {"clause": text, "description": _clean(row["description"])}
        clauses.append(_Clause(text))

    for row in terms.get("credit_corrections") or []:
        description = _clean(str(row.get("description", ""))).rstrip("。")
        if row.get("due"):
            text = _("%(institution)s应于 %(date)s 前向征信机构报送更正信息：%(description)s。") % {
                "institution": institution,
                "date": format_date(row["due"]),
                "description": description,
            }
        else:
            text = _("%(institution)s应向征信机构报送更正信息：%(description)s。") % {
                "institution": institution,
                "description": description,
            }
        clauses.append(_Clause(text))

    if terms.get("withdraw_complaint"):
        clauses.append(
            _Clause(
                _("本协议约定的义务履行完毕后，%(consumer)s撤回就本纠纷提出的投诉。") % {"consumer": consumer_names}
            )
        )
    if terms.get("confidentiality"):
        clauses.append(
            _Clause(
                _(
                    "各方当事人及调解员对调解过程中知悉的信息和本协议内容负有保密义务，法律另有规定或者各方另有约定的除外"
                    "（《人民法院在线调解规则》第二十九条）。"
                )
            )
        )
    if terms.get("judicial_confirmation_consent"):
        clauses.append(
            _Clause(
                _(
                    "双方当事人同意自本协议生效之日起三十日内，共同向有管辖权的人民法院申请司法确认"
                    "（《中华人民共和国民事诉讼法》第二百零五条）。"
                )
            )
        )
    if terms.get("performance"):
        clauses.append(_Clause(_("履行方式与期限：%(text)s") % {"text": _clean(str(terms["performance"]))}))
    for line in terms.get("other_terms") or []:
        clauses.append(_Clause(_clean(str(line))))
    return clauses


def _money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def amount_in_words(value: Any) -> str:
    """An amount in yuan written out in financial capitals (大写), e.g. 1200.5 → 壹仟贰佰元伍角整."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    if amount < 0:
        raise ValueError("negative amount")
    cents = int(amount * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if yuan >= 10**16:
        raise ValueError("amount too large")
    words = ""
    if yuan or not (jiao or fen):
        words = _integer_words(yuan) + "元"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif fen and yuan:
        words += "零"
    if fen:
        words += _DIGITS[fen] + "分"
    else:
        words += "整"
    return words


def _integer_words(number: int) -> str:
    if number == 0:
        return _DIGITS[0]
    groups = []
    while number:
        groups.append(number % 10000)
        number //= 10000
    words = ""
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        # A gap to the previous group (10 0050 → 壹拾万零伍拾) is read as one zero.
        if words and (group < 1000 or groups[index + 1] == 0):
            words += _DIGITS[0]
        started = pending_zero = False
        for place in (3, 2, 1, 0):
            digit = group // 10**place % 10
            if digit == 0:
                pending_zero = started
                continue
            if pending_zero:
                words += _DIGITS[0]
                pending_zero = False
            words += _DIGITS[digit] + _PLACES[place]
            started = True
        words += _GROUPS[index]
    return words


@dataclass(frozen=True)
class _SignatureBox:
    field_name: str
    anchor: str
    role: str
    heading: str
    label: str
    is_seal: bool


def _signature_box(slot: SignatureSlot) -> _SignatureBox:
    headings: dict[str, str] = {
        SignatureSlot.Role.CONSUMER: _("申请人（签名）"),
        SignatureSlot.Role.INSTITUTION: _("被申请人（盖章）"),
        SignatureSlot.Role.MEDIATOR: _("调解员（签名）"),
        SignatureSlot.Role.CENTRE: _("调解组织（盖章）"),
    }
    return _SignatureBox(
        field_name=slot.field_name,
        anchor=_anchor(slot.field_name),
        role=slot.role,
        heading=str(headings.get(slot.role, slot.get_role_display())),
        label=slot.label,
        is_seal=slot.role in {SignatureSlot.Role.CENTRE, SignatureSlot.Role.INSTITUTION},
    )


def _anchor(field_name: str) -> str:
    return f"signature-{field_name}"


def _verify_url(agreement: Agreement) -> str:
    return settings.PUBLIC_BASE_URL + reverse("signing:verify_code", kwargs={"code": agreement.short_code})


@dataclass(frozen=True)
class _QrCode:
    size: int
    path: str


def _qr_code(data: str) -> _QrCode:
    """The QR code as one SVG path of unit squares (no raster image, identical on every run)."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    path = "".join(f"M{x} {y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark)
    return _QrCode(size=len(matrix), path=path)


def _attachment_json(
    version: AgreementVersion,
    slots: Sequence[SignatureSlot],
    parties: _Parties,
    font: PinnedFont,
    verify_url: str,
) -> str:
    agreement = version.agreement
    case = agreement.case
    data = {
        "format": ATTACHMENT_FORMAT,
        "case_number": case.number,
        "short_code": agreement.short_code,
        "verify_url": verify_url,
        "template": agreement.template,
        "version": version.number,
        "content_hash": version.content_hash,
        "parties": {
            "consumers": [{"name": p.name, "id_number_masked": p.id_number_masked} for p in parties.consumers],
            "institution": _organisation_data(parties.institution)
            | {"agent": parties.agent.name if parties.agent else None},
        },
        "mediators": [{"name": p.name, "lead": p.lead} for p in parties.mediators],
        "centre": _organisation_data(parties.centre),
        "facts": version.facts,
        "dispute": version.dispute,
        "terms": version.terms,
        "signature_fields": [
            {"position": s.position, "field_name": s.field_name, "role": s.role, "label": s.label} for s in slots
        ],
        "font": {"family": font.family, "file": font.file_name, "sha256": font.sha256},
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2)


def _organisation_data(organisation: Organisation) -> dict[str, Any]:
    return {"name": organisation.name, "credit_code": organisation.credit_code or ""}


def _placements(document: Document, slots: Sequence[SignatureSlot]) -> list[FieldPlacement]:
    placements = []
    for slot in slots:
        anchor = _anchor(slot.field_name)
        found = next(((i, page) for i, page in enumerate(document.pages) if anchor in page.anchors), None)
        if found is None:
            raise LookupError(f"signature box {anchor!r} was not laid out")
        index, page = found
        x1, y1, x2, y2 = page.anchors[anchor]
        height = page.height * PX_TO_PT
        box = (
            round(x1 * PX_TO_PT, 2),
            round(height - y2 * PX_TO_PT, 2),
            round(x2 * PX_TO_PT, 2),
            round(height - y1 * PX_TO_PT, 2),
        )
        placements.append(FieldPlacement(field_name=slot.field_name, page=index, box=box))
    return placements


# --- signature fields ------------------------------------------------------------------------------


def add_signature_fields(pdf: bytes, placements: Sequence[FieldPlacement], *, seal_field: str) -> bytes:
    """Create every signature field, empty, in one incremental update, before anyone signs.

    The seal field locks the whole document when signed (在线调解规则 Art 19: the seal comes last), so
    only PAdES validation data and document timestamps may follow it. No page content may change
    after this point (pitfall P8): each signature only fills its own field.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import (
        FieldMDPAction,
        FieldMDPSpec,
        MDPPerm,
        SigFieldSpec,
        append_signature_field,
    )

    if seal_field not in {p.field_name for p in placements}:
        raise ValueError(f"the seal field {seal_field!r} has no placement")
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    for placement in placements:
        # SigFieldSpec annotates the box as ints but writes any number; fractional points keep the
        # field exactly on the box WeasyPrint laid out.
        box: Any = placement.box
        if placement.field_name == seal_field:
            spec = SigFieldSpec(
                placement.field_name,
                on_page=placement.page,
                box=box,
                field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL),
                doc_mdp_update_value=MDPPerm.NO_CHANGES,
            )
        else:
            spec = SigFieldSpec(placement.field_name, on_page=placement.page, box=box)
        append_signature_field(writer, spec)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the signing report ----------------------------------------------------------------------------


def _event_data_labels() -> dict[str, str]:
    """Labels for the keys ``signing.services`` writes into ``SigningEvent.data``, in display order."""
    return {
        "field": _("签名域"),
        "who": _("签署方"),
        "otp_verified": _("验证码核验"),
        "reauthenticated": _("重新验证身份"),
        "channel": _("发送渠道"),
        "destination": _("发送至"),
        "reason": _("理由"),
        "seen_revision": _("签署人所见修订号"),
        "seen_sha256": _("签署前文本 SHA-256"),
        "seen_sm3": _("签署前文本 SM3"),
        "base_revision": _("签署所基于的修订号"),
        "base_sha256": _("签署所基于文本 SHA-256"),
        "after_revision": _("签署后修订号"),
        "after_sha256": _("签署后文本 SHA-256"),
        "after_sm3": _("签署后文本 SM3"),
        "final_revision": _("最终修订号"),
        "final_sha256": _("最终文本 SHA-256"),
        "final_sm3": _("最终文本 SM3"),
        "certificate_serial": _("证书序列号"),
        "certificate_subject": _("证书主体"),
        "version": _("版本"),
        "content_hash": _("内容哈希"),
        "rendered_sha256": _("签署文本 SHA-256"),
        "rendered_sm3": _("签署文本 SM3"),
        "prepared_sha256": _("含签名域文本 SHA-256"),
        "prepared_sm3": _("含签名域文本 SM3"),
        "fields": _("签名域"),
        "request_token": _("请求标识"),
    }


def render_signing_report(agreement: Agreement) -> bytes:
    """The signing report (签署报告): lifecycle, every PDF revision and its hashes, every event, the
    certificates used. Unsigned; the caller seals it with the centre's seal."""
    agreement = Agreement.objects.select_related("case", "final_version", "finalised_by").get(pk=agreement.pk)
    generated_at = timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        revisions = list(agreement.revisions.select_related("slot", "slot__signed_by").order_by("number"))
        events = list(agreement.events.select_related("actor", "slot").order_by("at", "pk"))
        slots = list(agreement.slots.select_related("signed_by").order_by("position"))
        labels = _event_data_labels()
        context = {
            "agreement": agreement,
            "case": agreement.case,
            "generated_at": _timestamp(generated_at),
            "lifecycle": _lifecycle(agreement),
            "slots": [
                {
                    "position": s.position + 1,
                    "field_name": s.field_name,
                    "role": s.get_role_display(),
                    "label": s.label,
                    "status": s.get_status_display(),
                    "signed_by": s.signed_by.display_name if s.signed_by else "",
                    "signed_at": _timestamp(s.signed_at),
                }
                for s in slots
            ],
            "revisions": [
                {
                    "number": r.number,
                    "added": _revision_added(r.slot),
                    "at": _timestamp(r.created_at),
                    "size": f"{r.size:,}",
                    "sha256": r.sha256,
                    "sm3": r.sm3,
                }
                for r in revisions
            ],
            "events": [
                {
                    "at": _timestamp(e.at),
                    "kind": e.get_kind_display(),
                    "slot": e.slot.label if e.slot else "",
                    "actor": e.actor.display_name if e.actor else "",
                    "ip": e.ip or "",
                    "user_agent": e.user_agent,
                    "data": _event_data(e.data, labels),
                }
                for e in events
            ],
            "certificates": [_certificate_row(c) for c in _certificates(events)],
            **_document_dates(generated_at, generated_at),
        }
    identifier = hashlib.sha256(f"{agreement.pk}:{generated_at.isoformat()}".encode()).hexdigest()[:32]
    return render_pdf("signing/pdf/signing_report.html", context, identifier=identifier)


def _lifecycle(agreement: Agreement) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [
        (_("协议状态"), str(agreement.get_state_display())),
        (_("起草时间"), _timestamp(agreement.created_at)),
    ]
    if agreement.finalised_at:
        by = agreement.finalised_by.display_name if agreement.finalised_by else ""
        rows.append(
            (_("定稿时间"), _("%(time)s（%(name)s）") % {"time": _timestamp(agreement.finalised_at), "name": by})
        )
    if agreement.final_version:
        rows.append((_("定稿版本"), _("第 %(number)s 版") % {"number": agreement.final_version.number}))
    if agreement.final_content_hash:
        rows.append((_("定稿内容哈希（SHA-256）"), agreement.final_content_hash))
    if agreement.rendered_at:
        rows.append((_("生成签署文本时间"), _timestamp(agreement.rendered_at)))
    if agreement.rendered_sha256:
        rows.append((_("签署文本 SHA-256"), agreement.rendered_sha256))
    if agreement.rendered_sm3:
        rows.append((_("签署文本 SM3"), agreement.rendered_sm3))
    if agreement.effective_at:
        rows.append((_("生效时间"), _timestamp(agreement.effective_at)))
    if agreement.voided_at:
        rows.append((_("作废时间"), _timestamp(agreement.voided_at)))
        rows.append((_("作废原因"), agreement.void_reason))
    return rows


def _revision_added(slot: SignatureSlot | None) -> str:
    if slot is None:
        return _("签署文本及全部空白签名域")
    if slot.signed_by:
        return _("%(label)s（%(name)s 签署）") % {"label": slot.label, "name": slot.signed_by.display_name}
    return slot.label


def _event_data(data: Any, labels: dict[str, str]) -> list[tuple[str, str]]:
    """The event's data as (label, text) rows: known keys first, in the order of ``labels``."""
    if not isinstance(data, dict):
        return [("", _data_value(data))] if data else []
    order = {key: n for n, key in enumerate(labels)}
    keys = sorted(data, key=lambda key: (order.get(key, len(order)), key))
    return [(labels.get(key, key), _data_value(data[key])) for key in keys]


def _data_value(value: Any) -> str:
    if value is True:
        return _("是")
    if value is False:
        return _("否")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "、".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _certificate_serials(events: Iterable[SigningEvent]) -> list[str]:
    serials: list[str] = []
    for event in events:
        if not isinstance(event.data, dict):
            continue
        for key, value in event.data.items():
            if key.endswith("serial") and isinstance(value, str | int) and str(value) not in serials:
                serials.append(str(value))
    return serials


def _certificates(events: Iterable[SigningEvent]) -> list[IssuedCertificate]:
    serials = _certificate_serials(events)
    found = {
        c.serial: c for c in IssuedCertificate.objects.filter(serial__in=serials).select_related("user", "organisation")
    }
    return [found[s] for s in serials if s in found]


def _certificate_row(certificate: IssuedCertificate) -> dict[str, str]:
    holder = certificate.user or certificate.organisation
    return {
        "kind": str(certificate.get_kind_display()),
        "serial": certificate.serial,
        "subject": certificate.subject,
        "holder": holder.display_name if isinstance(holder, User) else (holder.name if holder else ""),
        "validity": _("%(start)s 至 %(end)s")
        % {"start": _timestamp(certificate.not_before), "end": _timestamp(certificate.not_after)},
        "fingerprint": hashlib.sha256(bytes(certificate.certificate_der)).hexdigest(),
        "revoked": _timestamp(certificate.revoked_at),
        "revocation_reason": certificate.revocation_reason,
    }


# --- shared ------------------------------------------------------------------------------------------


def _timestamp(moment: datetime.datetime | None) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment).isoformat(sep=" ", timespec="seconds")


def _local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def _date_label(day: datetime.date) -> str:
    return format_date(day.isoformat())


def _document_dates(created: datetime.datetime, modified: datetime.datetime) -> dict[str, str]:
    """W3C dates for ``<meta name=dcterms.*>``: WeasyPrint writes them into /Info and the XMP packet."""
    return {
        "created_w3c": created.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modified_w3c": modified.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def render_pdf(template: str, context: dict[str, Any], *, identifier: str) -> bytes:
    """Another document in the agreement's typography (pinned font, running header, 第 N 页 共 M 页).

    Always in Chinese, like the agreement: these are documents for the parties and the court.
    """
    font = pinned_font()
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(template, context)
        css = _document_css(font)
    _, pdf = _write_pdf(html, css, font, identifier=identifier, attachments=[])
    return pdf


def _css_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ")
    return f'"{escaped}"'


def _page_counter_content() -> str:
    """``第 N 页 共 M 页`` as a CSS ``content`` value with the page counters in place."""
    parts = []
    for chunk in re.split(r"(%\(pages?\)s)", _("第 %(page)s 页 共 %(pages)s 页")):
        if chunk == "%(page)s":
            parts.append("counter(page)")
        elif chunk == "%(pages)s":
            parts.append("counter(pages)")
        elif chunk:
            parts.append(_css_string(chunk))
    return " ".join(parts)


def _document_css(font: PinnedFont) -> str:
    """The stylesheet every PDF shares: the pinned font, page size, running header and footer.

    Rendered apart from the HTML: the page counter text is CSS, and HTML autoescaping inside a
    ``<style>`` element would corrupt it.
    """
    return render_to_string(
        CSS_TEMPLATE,
        {
            "font_family": _css_string(font.css_family),
            "font_uri": _css_string(font.uri),
            "footer": _page_counter_content(),
        },
    )


def _write_pdf(
    html: str, css: str, font: PinnedFont, *, identifier: str, attachments: list[Any]
) -> tuple[Document, bytes]:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    fetcher = url_fetcher(font)
    font_config = FontConfiguration()
    stylesheet = weasyprint.CSS(string=css, font_config=font_config, url_fetcher=fetcher)
    options: dict[str, Any] = {"pdf_variant": PDF_VARIANT, "pdf_identifier": identifier.encode("ascii")}
    document = weasyprint.HTML(string=html, url_fetcher=fetcher).render(
        stylesheets=[stylesheet], font_config=font_config, **options
    )
    pdf = document.write_pdf(attachments=attachments, **options)
    return document, pdf
