"""Negotiation in the joint room: structured offers and blind bidding.

Offers: a party or the mediator puts terms on the table (amount, instalments, waivers, other
terms); the other side accepts, rejects or counters; a mediator's proposal needs both sides. Every
step is a system message in the joint room and a ledger entry; the terms are not secret.

Blind bidding (在线调解规则 Art 18): the mediator opens a round with the gap the parties agreed in
advance; each side submits one secret figure (the consumer what it demands, the institution what
it offers). When both are in, the case settles at the midpoint if the demand is at or below the
offer or within the gap; otherwise each side learns only that there was no overlap. The figures
are erased in the same transaction that decides the round and never reach the room, the ledger,
a record or a package.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mediation import ledger
from mediation.models import Case, CaseState, User
from sessions import services
from sessions.models import BlindBid, BlindBidRound, Offer
from sessions.services import RoomError

MAX_AMOUNT = Decimal("1000000000000")
CENT = Decimal("0.01")
TERM_KEYS = {"amount", "instalments", "waivers", "other_terms"}
MAX_INSTALMENTS = 60
MAX_WAIVERS = 10


class NegotiationError(RoomError):
    pass


def side_of(user: User, case: Case) -> str | None:
    """``mediator``, ``consumer`` or ``institution`` (``Offer.Side``): who ``user`` speaks for on ``case``, if anyone."""
    return services.case_role(user, case)


def _party_side(user: User, case: Case) -> str:
    side = side_of(user, case)
    if side not in (Offer.Side.CONSUMER, Offer.Side.INSTITUTION):
        raise NegotiationError("not_a_party", _("只有当事人可以这样做。"))
    return side


def _money(value: Any, field: str, *, allow_zero: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) and value is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise NegotiationError("invalid_amount", _("请填写有效的金额。"), field=field)
    if amount != amount.quantize(CENT):
        raise NegotiationError("invalid_amount", _("金额最多保留两位小数。"), field=field)
    if amount < 0 or (amount == 0 and not allow_zero) or amount >= MAX_AMOUNT:
        raise NegotiationError("invalid_amount", _("金额须大于零且小于一万亿元。"), field=field)
    return amount.quantize(CENT)


def _date(value: Any, field: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise NegotiationError("invalid_date", _("日期格式应为 YYYY-MM-DD。"), field=field) from None


def clean_terms(raw: Any) -> dict[str, Any]:
    """The canonical terms, or :class:`NegotiationError` naming the first wrong field."""
    if not isinstance(raw, Mapping):
        raise NegotiationError("invalid_terms", _("方案内容须为对象。"), field="terms")
    unknown = sorted(set(raw) - TERM_KEYS)
    if unknown:
        raise NegotiationError(
            "invalid_terms", _("不支持的方案字段：%(keys)s。") % {"keys": "、".join(unknown)}, field="terms"
        )
    amount = _money(raw.get("amount"), "amount")
    instalments_raw = raw.get("instalments") or []
    if not isinstance(instalments_raw, list) or len(instalments_raw) > MAX_INSTALMENTS:
        raise NegotiationError(
            "invalid_instalments",
            _("分期须为列表，最多 %(count)d 期。") % {"count": MAX_INSTALMENTS},
            field="instalments",
        )
    instalments = []
    today = timezone.localdate()
    previous: datetime.date | None = None
    for index, item in enumerate(instalments_raw):
        if not isinstance(item, Mapping):
            raise NegotiationError("invalid_instalments", _("每一期须写明日期和金额。"), field="instalments")
        due = _date(item.get("due_date"), f"instalments.{index}.due_date")
        if due < today or (previous is not None and due <= previous):
            raise NegotiationError(
                "invalid_instalments", _("各期日期不得早于今天，且须逐期推后。"), field=f"instalments.{index}.due_date"
            )
        previous = due
        instalments.append(
            {"due_date": due.isoformat(), "amount": str(_money(item.get("amount"), f"instalments.{index}.amount"))}
        )
    if instalments and sum(Decimal(item["amount"]) for item in instalments) != amount:
        raise NegotiationError("instalments_total", _("各期金额之和须等于总金额。"), field="instalments")
    waivers_raw = raw.get("waivers") or []
    if not isinstance(waivers_raw, list) or len(waivers_raw) > MAX_WAIVERS:
        raise NegotiationError(
            "invalid_waivers", _("减免事项最多 %(count)d 项。") % {"count": MAX_WAIVERS}, field="waivers"
        )
    waivers = []
    for item in waivers_raw:
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            raise NegotiationError("invalid_waivers", _("每项减免事项须为 1 至 200 字。"), field="waivers")
        waivers.append(item.strip())
    other = raw.get("other_terms") or ""
    if not isinstance(other, str) or len(other) > 2000:
        raise NegotiationError("invalid_other_terms", _("其他条款最多 2000 字。"), field="other_terms")
    return {"amount": str(amount), "instalments": instalments, "waivers": waivers, "other_terms": other.strip()}


def describe(terms: Mapping[str, Any]) -> str:
    """The terms in one line for the room (Chinese: the room's system messages are a record)."""
    with translation.override("zh-hans"):
        parts = [_("金额 %(amount)s 元") % {"amount": f"{Decimal(terms['amount']):,.2f}"}]
        if terms["instalments"]:
            parts.append(_("分 %(count)d 期支付") % {"count": len(terms["instalments"])})
        if terms["waivers"]:
            parts.append(_("减免：%(items)s") % {"items": "、".join(terms["waivers"])})
        if terms["other_terms"]:
            parts.append(_("其他：%(text)s") % {"text": terms["other_terms"]})
        return "；".join(parts)


def _mediating(case: Case, *, speaker: User | None = None) -> Case:
    """The case, locked, if it is in mediation. An offer, an answer or a withdrawal is said in the
    joint room: during an open sitting its ``speaker`` must be checked in, not muted, and not put
    in their caucus, like anyone writing there."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.state != CaseState.MEDIATING:
        raise NegotiationError("not_mediating", _("案件不在调解中，不能进行协商。"))
    if speaker is not None:
        services.check_sitting_allows_writing(services.joint_room(locked), speaker)
    return locked


def _announce(case: Case, body: str, event: dict[str, Any]) -> None:
    services.post_system(services.joint_room(case), body=body, event=event)


def propose(case: Case, *, user: User, terms: Any, counter_to: Offer | None = None, ip: str | None = None) -> Offer:
    side = side_of(user, case)
    if side is None:
        raise NegotiationError("forbidden", _("您不是本案的当事人或调解员。"))
    clean = clean_terms(terms)
    with transaction.atomic():
        case = _mediating(case, speaker=user)
        if counter_to is not None:
            counter_to = Offer.objects.select_for_update().get(pk=counter_to.pk, case=case)
            if counter_to.state != Offer.State.OPEN:
                raise NegotiationError("not_open", _("该方案已处理，不能再还价。"))
            if counter_to.side == side or side == Offer.Side.MEDIATOR:
                raise NegotiationError("own_offer", _("只能对对方或调解员提出的方案还价。"))
            counter_to.state = Offer.State.COUNTERED
            counter_to.answered_by, counter_to.answered_at = user, timezone.now()
            counter_to.save(update_fields=["state", "answered_by", "answered_at"])
        number = (Offer.objects.filter(case=case).order_by("-number").values_list("number", flat=True).first() or 0) + 1
        offer = Offer.objects.create(
            case=case, number=number, side=side, proposed_by=user, terms=clean, counter_to=counter_to
        )
        with translation.override("zh-hans"):
            if counter_to is not None:
                body = _("%(name)s 对方案 %(old)d 还价，提出方案 %(number)d：%(terms)s") % {
                    "name": user.display_name,
                    "old": counter_to.number,
                    "number": number,
                    "terms": describe(clean),
                }
            else:
                body = _("%(name)s 提出方案 %(number)d：%(terms)s") % {
                    "name": user.display_name,
                    "number": number,
                    "terms": describe(clean),
                }
        _announce(case, body, {"type": "offer", "offer": number, "state": offer.state})
        ledger.record(
            "sessions.offer.proposed",
            actor=user,
            case=case,
            ip=ip,
            data={
                "offer": number,
                "side": side,
                "terms": clean,
                "counter_to": counter_to.number if counter_to else None,
            },
        )
    return offer


def answer(offer: Offer, *, user: User, accept: bool, ip: str | None = None) -> Offer:
    """The other side accepts or rejects; a mediator's proposal is accepted when both sides have."""
    with transaction.atomic():
        case = _mediating(offer.case, speaker=user)
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        side = _party_side(user, case)
        if offer.state != Offer.State.OPEN:
            raise NegotiationError("not_open", _("该方案已处理。"))
        if offer.side == side:
            raise NegotiationError("own_offer", _("不能回应本方提出的方案。"))
        if side in offer.accepted_sides:
            raise NegotiationError("already_answered", _("本方已接受该方案，正在等待另一方。"))
        now = timezone.now()
        if accept:
            offer.accepted_sides = sorted({*offer.accepted_sides, side})
            parties: set[str] = {Offer.Side.CONSUMER, Offer.Side.INSTITUTION}
            needed = parties if offer.side == Offer.Side.MEDIATOR else parties - {offer.side}
            if needed <= set(offer.accepted_sides):
                offer.state = Offer.State.ACCEPTED
        else:
            offer.state = Offer.State.REJECTED
        offer.answered_by, offer.answered_at = user, now
        offer.save(update_fields=["accepted_sides", "state", "answered_by", "answered_at"])
        with translation.override("zh-hans"):
            names = {"name": user.display_name, "number": offer.number}
            if not accept:
                body = _("%(name)s 拒绝了方案 %(number)d。") % names
            elif offer.state == Offer.State.ACCEPTED:
                body = _("%(name)s 接受了方案 %(number)d，双方已就该方案达成一致。") % names
            else:
                body = _("%(name)s 接受了方案 %(number)d，等待另一方回应。") % names
        _announce(case, body, {"type": "offer", "offer": offer.number, "state": offer.state})
        ledger.record(
            "sessions.offer.answered",
            actor=user,
            case=case,
            ip=ip,
            data={"offer": offer.number, "side": side, "accept": accept, "state": offer.state},
        )
    return offer


def withdraw(offer: Offer, *, user: User, ip: str | None = None) -> Offer:
    with transaction.atomic():
        case = _mediating(offer.case, speaker=user)
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        if side_of(user, case) != offer.side:
            raise NegotiationError("not_yours", _("只能撤回本方提出的方案。"))
        if offer.state != Offer.State.OPEN:
            raise NegotiationError("not_open", _("该方案已处理。"))
        offer.state = Offer.State.WITHDRAWN
        offer.answered_by, offer.answered_at = user, timezone.now()
        offer.save(update_fields=["state", "answered_by", "answered_at"])
        with translation.override("zh-hans"):
            body = _("%(name)s 撤回了方案 %(number)d。") % {"name": user.display_name, "number": offer.number}
        _announce(case, body, {"type": "offer", "offer": offer.number, "state": offer.state})
        ledger.record("sessions.offer.withdrawn", actor=user, case=case, ip=ip, data={"offer": offer.number})
    return offer


def accepted_offer(case: Case) -> Offer | None:
    """The latest offer both sides accepted: what the agreement draft starts from."""
    return Offer.objects.filter(case=case).filter(state=Offer.State.ACCEPTED).order_by("-number").first()


# --- blind bidding -------------------------------------------------------------------------------


def open_round(case: Case, *, mediator: User, agreed_gap: Any = "0", ip: str | None = None) -> BlindBidRound:
    if side_of(mediator, case) != Offer.Side.MEDIATOR:
        raise NegotiationError("not_mediator", _("只有本案调解员可以开启双盲报价。"))
    gap = _money(agreed_gap, "agreed_gap", allow_zero=True)
    with transaction.atomic():
        case = _mediating(case)
        if BlindBidRound.objects.filter(case=case).filter(state=BlindBidRound.State.OPEN).exists():
            raise NegotiationError("round_open", _("已有一轮双盲报价正在进行。"))
        number = (
            BlindBidRound.objects.filter(case=case).order_by("-number").values_list("number", flat=True).first() or 0
        ) + 1
        bid_round = BlindBidRound.objects.create(case=case, number=number, opened_by=mediator, agreed_gap=gap)
        with translation.override("zh-hans"):
            body = _(
                "调解员开启第 %(number)d 轮双盲报价（双方事先约定的可接受差额：%(gap)s 元）。请各方提交报价，报价不会向对方显示。"
            ) % {
                "number": number,
                "gap": f"{gap:,.2f}",
            }
        _announce(case, body, {"type": "blind_bid", "round": number, "state": bid_round.state})
        ledger.record(
            "sessions.blind_bid.opened",
            actor=mediator,
            case=case,
            ip=ip,
            data={"round": number, "agreed_gap": str(gap)},
        )
    return bid_round


def submit_bid(bid_round: BlindBidRound, *, user: User, figure: Any, ip: str | None = None) -> BlindBidRound:
    """Seal this side's figure (replacing its earlier one while the round is open); decide when both are in."""
    amount = _money(figure, "figure")
    with transaction.atomic():
        case = _mediating(bid_round.case)
        bid_round = BlindBidRound.objects.select_for_update().get(pk=bid_round.pk)
        side = _party_side(user, case)
        if bid_round.state != BlindBidRound.State.OPEN:
            raise NegotiationError("round_closed", _("本轮双盲报价已结束。"))
        BlindBid.objects.update_or_create(round=bid_round, side=side, defaults={"figure": amount, "submitted_by": user})
        # Who submitted is not secret; how much is.
        ledger.record(
            "sessions.blind_bid.submitted", actor=user, case=case, ip=ip, data={"round": bid_round.number, "side": side}
        )
        bids = {bid.side: bid for bid in bid_round.bids.all()}
        if set(bids) == {BlindBid.Side.CONSUMER, BlindBid.Side.INSTITUTION}:
            _decide(case, bid_round, bids)
    return bid_round


def _decide(case: Case, bid_round: BlindBidRound, bids: dict[str, BlindBid]) -> None:
    demand, offer = bids[BlindBid.Side.CONSUMER].figure, bids[BlindBid.Side.INSTITUTION].figure
    if demand is None or offer is None:  # both were just stored; erased only below
        raise NegotiationError("round_closed", _("本轮双盲报价已结束。"))
    if demand <= offer or demand - offer <= bid_round.agreed_gap:
        bid_round.state = BlindBidRound.State.SETTLED
        bid_round.settled_amount = ((demand + offer) / 2).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        bid_round.state = BlindBidRound.State.NO_OVERLAP
    bid_round.decided_at = timezone.now()
    bid_round.save(update_fields=["state", "settled_amount", "decided_at"])
    BlindBid.objects.filter(round=bid_round).update(figure=None)  # erased with the decision
    with translation.override("zh-hans"):
        if bid_round.state == BlindBidRound.State.SETTLED:
            body = _("第 %(number)d 轮双盲报价达成一致：按双方报价的中间值 %(amount)s 元和解。") % {
                "number": bid_round.number,
                "amount": f"{bid_round.settled_amount:,.2f}",
            }
        else:
            body = _("第 %(number)d 轮双盲报价未能重合。双方的报价均不公开，也不会被记录。") % {
                "number": bid_round.number
            }
    _announce(case, body, {"type": "blind_bid", "round": bid_round.number, "state": bid_round.state})
    ledger.record(
        "sessions.blind_bid.decided",
        case=case,
        data={
            "round": bid_round.number,
            "state": bid_round.state,
            "settled_amount": str(bid_round.settled_amount) if bid_round.settled_amount is not None else None,
        },
    )


def cancel_round(bid_round: BlindBidRound, *, mediator: User, ip: str | None = None) -> BlindBidRound:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=bid_round.case_id)
        if side_of(mediator, case) != Offer.Side.MEDIATOR:
            raise NegotiationError("not_mediator", _("只有本案调解员可以取消双盲报价。"))
        bid_round = BlindBidRound.objects.select_for_update().get(pk=bid_round.pk)
        if bid_round.state != BlindBidRound.State.OPEN:
            raise NegotiationError("round_closed", _("本轮双盲报价已结束。"))
        bid_round.state = BlindBidRound.State.CANCELLED
        bid_round.decided_at = timezone.now()
        bid_round.save(update_fields=["state", "decided_at"])
        BlindBid.objects.filter(round=bid_round).update(figure=None)
        with translation.override("zh-hans"):
            body = _("调解员取消了第 %(number)d 轮双盲报价，已提交的报价已删除。") % {"number": bid_round.number}
        _announce(case, body, {"type": "blind_bid", "round": bid_round.number, "state": bid_round.state})
        ledger.record(
            "sessions.blind_bid.cancelled", actor=mediator, case=case, ip=ip, data={"round": bid_round.number}
        )
    return bid_round
