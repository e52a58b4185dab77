"""Performance follow-up: the effective agreement's dated obligations as due items.

人民调解法 Art 29: the agreement says how and by when each obligation is performed. When the
agreement takes effect (``signing.signals.agreement_effective``, inside the signing transaction)
its terms become due items: a lump sum one item, instalments one item each, dated non-monetary
obligations (credit corrections) items without an amount. The side that performs reports an item
done with evidence (the same upload checks as case evidence); the other side confirms or
disputes with a reason; a disputed item may be reported again. Overdue items alert the centre's
case managers and both sides once (``manage.py alert_overdue_items``, from cron).

Every action locks the case, then the item (the services' order), writes the ledger and tells
the other side after the commit.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from judicial_link.models import DueItem
from mediation import audience, clocks, ledger, permissions
from mediation import services as case_services
from mediation.evidence_checks import UploadRejected, sniff_upload
from mediation.models import Case, CaseParticipant, CaseState, ClockKind, User
from mediation.notifications import notify
from mediation.services import CaseError
from signing.models import Agreement
from signing.terms import CENT, MAX_AMOUNT, format_date

Side = DueItem.Side
ItemState = DueItem.State
MAX_NOTE = 1000
MAX_REASON = 2000


class PerformanceError(CaseError):
    """Refused; ``code`` is stable, ``field`` names the form field, ``forbidden`` means the wrong person."""

    def __init__(self, code: str, message: str, *, field: str | None = None, forbidden: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.forbidden = forbidden


# --- creating the items from the terms -------------------------------------------------------


@dataclass(frozen=True)
class Obligation:
    kind: str
    due_date: datetime.date
    amount: Decimal | None
    payer: str
    description: str


def obligations(terms: dict[str, Any]) -> list[Obligation]:
    """The dated obligations in canonical terms (``signing.terms.clean_terms``), in due-date order."""
    payer = Side.CONSUMER if terms.get("payer") == "consumer" else Side.INSTITUTION
    found: list[Obligation] = []
    instalments = terms.get("instalments") or []
    amount = terms.get("payment_amount")
    if instalments:
        count = len(instalments)
        for n, row in enumerate(instalments, start=1):
            found.append(
                Obligation(
                    DueItem.Kind.INSTALMENT,
                    datetime.date.fromisoformat(row["due"]),
                    Decimal(row["amount"]),
                    payer,
                    _("第 %(n)s 期（共 %(count)s 期）：于 %(date)s 前支付人民币 %(amount)s 元")
                    % {"n": n, "count": count, "date": format_date(row["due"]), "amount": row["amount"]},
                )
            )
    elif amount is not None and Decimal(amount) > 0 and terms.get("payment_due"):
        found.append(
            Obligation(
                DueItem.Kind.LUMP_SUM,
                datetime.date.fromisoformat(terms["payment_due"]),
                Decimal(amount),
                payer,
                _("于 %(date)s 前一次性支付人民币 %(amount)s 元")
                % {"date": format_date(terms["payment_due"]), "amount": amount},
            )
        )
    for row in terms.get("credit_corrections") or []:
        if row.get("due"):
            found.append(
                Obligation(
                    DueItem.Kind.NON_MONETARY,
                    datetime.date.fromisoformat(row["due"]),
                    None,
                    Side.INSTITUTION,
                    _("于 %(date)s 前办理征信更正：%(what)s")
                    % {"date": format_date(row["due"]), "what": str(row.get("description", "")).rstrip("。")},
                )
            )
    return sorted(found, key=lambda o: o.due_date)


def _side_names(case: Case) -> dict[str, str]:
    return {
        Side.INSTITUTION: case.institution.name,
        Side.CONSUMER: "、".join(u.display_name for u in audience.consumers(case)) or str(Side.CONSUMER.label),
    }


def create_due_items(agreement: Agreement) -> list[DueItem]:
    """The due items of an effective agreement; created once, later calls return the existing ones.

    Call inside a transaction holding the case lock (the signing transaction, or ``ensure_due_items``).
    """
    existing = list(DueItem.objects.filter(agreement=agreement).order_by("sequence"))
    if existing or agreement.state != Agreement.State.EFFECTIVE or agreement.final_version is None:
        return existing
    case = agreement.case
    # Stored text of a legal obligation: Chinese, whatever language the last signer reads.
    with translation.override("zh-hans"):
        names = _side_names(case)
        found = obligations(agreement.final_version.terms)
    items = []
    for sequence, obligation in enumerate(found, start=1):
        payee = Side.CONSUMER if obligation.payer == Side.INSTITUTION else Side.INSTITUTION
        items.append(
            DueItem.objects.create(
                case=case,
                agreement=agreement,
                sequence=sequence,
                kind=obligation.kind,
                due_date=obligation.due_date,
                amount=obligation.amount,
                payer=obligation.payer,
                payer_name=names[obligation.payer],
                payee_name=names[payee],
                description=obligation.description,
            )
        )
    if items:
        ledger.record(
            "judicial.performance.items_created",
            case=case,
            data={
                "agreement": agreement.pk,
                "items": [
                    {"sequence": i.sequence, "due": i.due_date.isoformat(), "amount": str(i.amount or "")}
                    for i in items
                ],
            },
        )
    return items


def on_agreement_effective(sender: object, agreement: Agreement, **kwargs: Any) -> None:
    create_due_items(agreement)


def ensure_due_items(case: Case) -> list[DueItem]:
    """The case's items; creates them for an agreement that took effect before items existed."""
    items = list(DueItem.objects.filter(case=case).order_by("sequence"))
    if items:
        return items
    agreement = Agreement.objects.filter(case=case, state=Agreement.State.EFFECTIVE).first()
    if agreement is None:
        return []
    with transaction.atomic():
        Case.objects.select_for_update().filter(pk=case.pk).first()
        return create_due_items(agreement)


# --- who is on which side ------------------------------------------------------------------------


def side_of(user: User, case: Case) -> str | None:
    """The party side ``user`` acts for on ``case``: a consumer on it, or the institution's people."""
    if case.participants.filter(
        user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
    ).exists():
        return Side.CONSUMER
    if user.has_perm(permissions.ANSWER, case):
        return Side.INSTITUTION
    return None


def people_of(side: str, case: Case) -> list[User]:
    return audience.consumers(case) if side == Side.CONSUMER else audience.institution_people(case)


def may_report(user: User, item: DueItem) -> bool:
    return side_of(user, item.case) == item.payer and item.state in (ItemState.DUE, ItemState.DISPUTED)


def may_respond(user: User, item: DueItem) -> bool:
    return side_of(user, item.case) == item.payee and item.state == ItemState.REPORTED_PAID


# --- the actions -----------------------------------------------------------------------------------


def _tell(people: Sequence[User], kind: str, message: str, case: Case) -> None:
    recipients = list(people)
    transaction.on_commit(lambda: notify(recipients, kind, message, case=case), robust=True)


def _lock(item: DueItem) -> DueItem:
    """Case first, then the item: the order every service locks in."""
    case = Case.objects.select_for_update().select_related("institution", "centre").get(pk=item.case_id)
    locked = DueItem.objects.select_for_update().get(pk=item.pk)
    locked.case = case
    if case.is_final:
        raise PerformanceError("case_closed", _("案件已结束，不能再办理履行事项。"))
    return locked


def _confirmation_window_open(case: Case, today: datetime.date) -> bool:
    deadline = clocks.open_clock(case, ClockKind.JUDICIAL_CONFIRMATION)
    return deadline is not None and deadline.due_date >= today


def _start_performing(case: Case, actor: User, ip: str | None) -> None:
    """Into 履行中 once performance starts after a confirmation ruling, or once the window for
    applying has closed: moving earlier would stop the parties' 30-day window (民事诉讼法 Art 205)."""
    today = timezone.localdate()
    if case.state == CaseState.CONFIRMED or (
        case.state == CaseState.AGREEMENT_EFFECTIVE and not _confirmation_window_open(case, today)
    ):
        case_services.start_performance(case, actor=actor, ip=ip)


def _item_words(item: DueItem) -> dict[str, str]:
    return {"number": item.case.number, "sequence": str(item.sequence), "description": item.description}


def _clean_amount(item: DueItem, amount: Decimal | None) -> Decimal | None:
    if item.amount is None:
        if amount is not None:
            raise PerformanceError("amount_not_monetary", _("该项为非金钱义务，不填写金额。"), field="amount")
        return None
    if amount is None:
        raise PerformanceError("amount_required", _("请填写实际支付的金额。"), field="amount")
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(CENT):
        raise PerformanceError("amount_invalid", _("金额须大于 0，最多保留两位小数（精确到分）。"), field="amount")
    return amount.quantize(CENT)


def report_performed(
    item: DueItem,
    *,
    actor: User,
    paid_on: datetime.date,
    amount: Decimal | None,
    note: str,
    upload: UploadedFile,
    ip: str | None = None,
) -> DueItem:
    """The performing side reports the item done, with evidence; the other side is asked to confirm."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise PerformanceError("note_too_long", _("说明不能超过 %(limit)s 个字。") % {"limit": MAX_NOTE}, field="note")
    try:
        checked = sniff_upload(upload)
    except UploadRejected as error:
        raise PerformanceError("evidence", str(error), field="evidence") from None
    saved: FieldFile | None = None
    try:
        with transaction.atomic():
            item = _lock(item)
            case = item.case
            if side_of(actor, case) != item.payer:
                raise PerformanceError(
                    "not_payer",
                    _("只有履行方（%(payer)s）可以报告该项已履行。") % {"payer": item.payer_name},
                    forbidden=True,
                )
            if item.state not in (ItemState.DUE, ItemState.DISPUTED):
                raise PerformanceError(
                    "state", _("该项当前状态为「%(state)s」，不能报告履行。") % {"state": item.get_state_display()}
                )
            today = timezone.localdate()
            effective = timezone.localdate(item.agreement.effective_at) if item.agreement.effective_at else None
            if paid_on > today:
                raise PerformanceError("paid_on_future", _("履行日期不能晚于今天。"), field="paid_on")
            if effective is not None and paid_on < effective:
                raise PerformanceError(
                    "paid_on_early",
                    _("履行日期不能早于调解协议生效日（%(date)s）。") % {"date": effective.isoformat()},
                    field="paid_on",
                )
            paid_amount = _clean_amount(item, amount)
            item.evidence.save(checked.sha256, upload, save=False)
            saved = item.evidence
            item.state = ItemState.REPORTED_PAID
            item.report_count += 1
            item.reported_by = actor
            item.reported_at = timezone.now()
            item.paid_on = paid_on
            item.paid_amount = paid_amount
            item.report_note = note
            item.evidence_name = checked.safe_name
            item.evidence_content_type = checked.content_type
            item.evidence_size = checked.size
            item.evidence_sha256 = checked.sha256
            item.evidence_sm3 = checked.sm3
            item.responded_by = None
            item.responded_at = None
            item.dispute_reason = ""
            item.save()
            ledger.record(
                "judicial.performance.reported",
                actor=actor,
                case=case,
                ip=ip,
                data={
                    "item": item.pk,
                    "sequence": item.sequence,
                    "report": item.report_count,
                    "paid_on": paid_on.isoformat(),
                    "amount": str(paid_amount) if paid_amount is not None else None,
                    "note": note,
                    "evidence_name": checked.safe_name,
                    "evidence_sha256": checked.sha256,
                    "evidence_sm3": checked.sm3,
                },
            )
            _start_performing(case, actor, ip)
            _tell(
                people_of(item.payee, case),
                "judicial.performance.reported",
                _("案件 %(number)s 第 %(sequence)s 项（%(description)s）已报告履行，请核对后确认或提出异议。")
                % _item_words(item),
                case,
            )
    except BaseException:
        # The rolled-back row no longer points at the stored file; do not leave it behind.
        if saved is not None and saved.name:
            saved.storage.delete(saved.name)
        raise
    return item


def confirm_performed(item: DueItem, *, actor: User, ip: str | None = None) -> DueItem:
    with transaction.atomic():
        item = _lock(item)
        case = item.case
        _require_payee(item, actor)
        item.state = ItemState.CONFIRMED
        item.responded_by = actor
        item.responded_at = timezone.now()
        item.save(update_fields=["state", "responded_by", "responded_at"])
        ledger.record(
            "judicial.performance.confirmed",
            actor=actor,
            case=case,
            ip=ip,
            data={"item": item.pk, "sequence": item.sequence, "report": item.report_count},
        )
        _start_performing(case, actor, ip)
        done = not DueItem.objects.filter(case=case).exclude(state=ItemState.CONFIRMED).exists()
        message = _("案件 %(number)s 第 %(sequence)s 项（%(description)s）已确认履行。") % _item_words(item)
        if done:
            message += " " + _("调解协议约定的各项义务均已确认履行完毕，调解中心可以结案。")
        _tell(
            people_of(item.payer, case) + (audience.case_managers(case) + audience.mediators(case) if done else []),
            "judicial.performance.confirmed",
            message,
            case,
        )
    return item


def dispute_performed(item: DueItem, *, actor: User, reason: str, ip: str | None = None) -> DueItem:
    reason = (reason or "").strip()
    if not reason:
        raise PerformanceError("reason_required", _("请说明对履行情况的异议理由。"), field="reason")
    if len(reason) > MAX_REASON:
        raise PerformanceError(
            "reason_too_long", _("异议理由不能超过 %(limit)s 个字。") % {"limit": MAX_REASON}, field="reason"
        )
    with transaction.atomic():
        item = _lock(item)
        case = item.case
        _require_payee(item, actor)
        item.state = ItemState.DISPUTED
        item.responded_by = actor
        item.responded_at = timezone.now()
        item.dispute_reason = reason
        item.save(update_fields=["state", "responded_by", "responded_at", "dispute_reason"])
        ledger.record(
            "judicial.performance.disputed",
            actor=actor,
            case=case,
            ip=ip,
            data={"item": item.pk, "sequence": item.sequence, "report": item.report_count, "reason": reason},
        )
        _tell(
            people_of(item.payer, case) + audience.mediators(case) + audience.case_managers(case),
            "judicial.performance.disputed",
            _("案件 %(number)s 第 %(sequence)s 项（%(description)s）的履行情况有异议：%(reason)s")
            % {**_item_words(item), "reason": reason},
            case,
        )
    return item


def _require_payee(item: DueItem, actor: User) -> None:
    if side_of(actor, item.case) != item.payee:
        raise PerformanceError(
            "not_payee",
            _("只有权利方（%(payee)s）可以确认履行或提出异议。") % {"payee": item.payee_name},
            forbidden=True,
        )
    if item.state != ItemState.REPORTED_PAID:
        raise PerformanceError(
            "state", _("该项当前状态为「%(state)s」，尚无待确认的履行报告。") % {"state": item.get_state_display()}
        )


# --- overdue alerts ----------------------------------------------------------------------------------


def alert_overdue(today: datetime.date | None = None) -> int:
    """Tell the centre's case managers and both sides about each overdue item, once per item.

    Idempotent (cron): the alert time is recorded on the item in the same transaction as the
    notifications, under the case and item locks, so two runs at once send once.
    """
    today = today or timezone.localdate()
    candidates = list(
        DueItem.objects.filter(state__in=DueItem.OPEN_STATES, due_date__lt=today, overdue_alerted_at__isnull=True)
        .exclude(case__state__in=[CaseState.CLOSED, CaseState.TERMINATED])
        .values_list("pk", "case_id")
    )
    sent = 0
    for item_pk, case_pk in candidates:
        with transaction.atomic():
            case = Case.objects.select_for_update().select_related("centre").get(pk=case_pk)
            item = (
                DueItem.objects.select_for_update()
                .filter(pk=item_pk, overdue_alerted_at__isnull=True, state__in=DueItem.OPEN_STATES)
                .first()
            )
            if item is None or item.due_date >= today:
                continue
            item.overdue_alerted_at = timezone.now()
            item.save(update_fields=["overdue_alerted_at"])
            days = (today - item.due_date).days
            ledger.record(
                "judicial.performance.overdue",
                case=case,
                data={"item": item.pk, "sequence": item.sequence, "due": item.due_date.isoformat(), "days": days},
            )
            message = _(
                "案件 %(number)s 第 %(sequence)s 项（%(description)s）已于 %(due)s 到期，至今未确认履行，已逾期 %(days)s 日。"
            ) % {
                "number": case.number,
                "sequence": item.sequence,
                "description": item.description,
                "due": item.due_date.isoformat(),
                "days": days,
            }
            notify(
                audience.case_managers(case) + audience.both_sides(case),
                "judicial.performance.overdue",
                message,
                case=case,
            )
            sent += 1
    return sent


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    total: int
    confirmed: int
    overdue: int
    disputed: int
    awaiting_confirmation: int
    next_due: DueItem | None

    @property
    def all_confirmed(self) -> bool:
        return self.total > 0 and self.confirmed == self.total


def summary(items: Sequence[DueItem], today: datetime.date) -> Summary:
    pending = [i for i in items if i.state in DueItem.OPEN_STATES]
    return Summary(
        total=len(items),
        confirmed=sum(i.state == ItemState.CONFIRMED for i in items),
        overdue=sum(i.is_overdue(today) for i in items),
        disputed=sum(i.state == ItemState.DISPUTED for i in items),
        awaiting_confirmation=sum(i.state == ItemState.REPORTED_PAID for i in items),
        next_due=min(pending, key=lambda i: i.due_date, default=None),
    )


def overdue_for_centre(centre_id: int, today: datetime.date | None = None) -> QuerySet[DueItem]:
    """Overdue items on the centre's open cases (the case managers' list and count), oldest first."""
    today = today or timezone.localdate()
    return (
        DueItem.objects.filter(case__centre_id=centre_id, state__in=DueItem.OPEN_STATES, due_date__lt=today)
        .exclude(case__state__in=[CaseState.CLOSED, CaseState.TERMINATED])
        .select_related("case")
        .order_by("due_date", "pk")
    )
