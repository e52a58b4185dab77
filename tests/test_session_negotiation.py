"""Structured offers and blind bidding in the joint room."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from mediation import services as case_services
from mediation.models import Case, LedgerEntry, User
from sessions import negotiation, services
from sessions.models import BlindBid, BlindBidRound, Message, Offer
from sessions.negotiation import NegotiationError

pytestmark = pytest.mark.django_db


def _day(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def _terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "amount": "6000",
        "instalments": [{"due_date": _day(30), "amount": "3000"}, {"due_date": _day(60), "amount": "3000.00"}],
        "waivers": ["免除逾期利息"],
        "other_terms": "",
    }
    terms.update(changes)
    return terms


def _joint_bodies(case: Case) -> list[str]:
    return list(Message.objects.filter(room=services.joint_room(case)).order_by("seq").values_list("body", flat=True))


# --- offers --------------------------------------------------------------------------------------


def test_a_party_offer_is_accepted_by_the_other_side(mediating_case: Case, consumer: User, bank_agent: User) -> None:
    offer = negotiation.propose(mediating_case, user=bank_agent, terms=_terms())

    assert (offer.number, offer.side, offer.state) == (1, "institution", "open")
    assert offer.terms["amount"] == "6000.00" and offer.terms["instalments"][1]["amount"] == "3000.00"
    with pytest.raises(NegotiationError) as raised:
        negotiation.answer(offer, user=bank_agent, accept=True)  # not its own
    assert raised.value.code == "own_offer"

    accepted = negotiation.answer(offer, user=consumer, accept=True)

    assert accepted.state == "accepted" and negotiation.accepted_offer(mediating_case) == accepted
    bodies = _joint_bodies(mediating_case)
    assert bodies[0].startswith("赵经理 提出方案 1：金额 6,000.00 元；分 2 期支付；减免：免除逾期利息")
    assert bodies[1] == "张三 接受了方案 1，双方已就该方案达成一致。"
    assert list(
        LedgerEntry.objects.filter(case=mediating_case, action__startswith="sessions.offer").values_list(
            "action", flat=True
        )
    ) == ["sessions.offer.proposed", "sessions.offer.answered"]


def test_a_counter_offer_closes_the_one_it_answers(mediating_case: Case, consumer: User, bank_agent: User) -> None:
    first = negotiation.propose(mediating_case, user=bank_agent, terms=_terms(amount="3000", instalments=[]))
    counter = negotiation.propose(
        mediating_case, user=consumer, terms=_terms(amount="8000", instalments=[]), counter_to=first
    )

    first.refresh_from_db()
    assert (first.state, counter.counter_to, counter.number) == ("countered", first, 2)
    assert "张三 对方案 1 还价，提出方案 2：金额 8,000.00 元" in _joint_bodies(mediating_case)[1]
    with pytest.raises(NegotiationError) as raised:
        negotiation.propose(mediating_case, user=bank_agent, terms=_terms(), counter_to=first)
    assert raised.value.code == "not_open"
    rejected = negotiation.answer(counter, user=bank_agent, accept=False)
    assert rejected.state == "rejected" and negotiation.accepted_offer(mediating_case) is None


def test_a_mediator_proposal_needs_both_sides(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    proposal = negotiation.propose(mediating_case, user=mediator, terms=_terms(instalments=[]))
    assert proposal.side == "mediator"

    half = negotiation.answer(proposal, user=consumer, accept=True)
    assert (half.state, half.accepted_sides) == ("open", ["consumer"])
    with pytest.raises(NegotiationError) as raised:
        negotiation.answer(proposal, user=consumer, accept=True)
    assert raised.value.code == "already_answered"
    with pytest.raises(NegotiationError) as raised:
        negotiation.answer(proposal, user=mediator, accept=True)
    assert raised.value.code == "not_a_party"

    both = negotiation.answer(proposal, user=bank_agent, accept=True)
    assert both.state == "accepted" and both.accepted_sides == ["consumer", "institution"]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"amount": "-5"}, "amount", "invalid_amount"),
        ({"amount": "12.345"}, "amount", "invalid_amount"),
        ({"amount": "abc"}, "amount", "invalid_amount"),
        ({"amount": None}, "amount", "invalid_amount"),
        (
            {"instalments": [{"due_date": "2020-01-01", "amount": "6000"}]},
            "instalments.0.due_date",
            "invalid_instalments",
        ),
        ({"instalments": [{"due_date": "31/12/2030", "amount": "6000"}]}, "instalments.0.due_date", "invalid_date"),
        ({"instalments": [{"due_date": _day(5), "amount": "1000"}]}, "instalments", "instalments_total"),
        ({"waivers": [""]}, "waivers", "invalid_waivers"),
        ({"other_terms": "长" * 2001}, "other_terms", "invalid_other_terms"),
        ({"surprise": 1}, "terms", "invalid_terms"),
    ],
)
def test_bad_terms_name_the_field_and_change_nothing(
    mediating_case: Case, consumer: User, changes: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(NegotiationError) as raised:
        negotiation.propose(mediating_case, user=consumer, terms=_terms(**changes))

    assert (raised.value.field, raised.value.code) == (field, code)
    assert not Offer.objects.exists() and _joint_bodies(mediating_case) == []


def test_outsiders_and_closed_cases_cannot_negotiate(
    mediating_case: Case, consumer: User, outsider: User, case_manager: User, mediator: User
) -> None:
    for person in (outsider, case_manager):
        with pytest.raises(NegotiationError) as raised:
            negotiation.propose(mediating_case, user=person, terms=_terms())
        assert raised.value.code == "forbidden"
    case_services.terminate_mediation(mediating_case, actor=mediator, reason="gap_too_large")
    with pytest.raises(NegotiationError) as raised:
        negotiation.propose(mediating_case, user=consumer, terms=_terms())
    assert raised.value.code == "not_mediating"
    assert not Offer.objects.exists()


def test_only_the_proposing_side_withdraws(mediating_case: Case, consumer: User, bank_agent: User) -> None:
    offer = negotiation.propose(mediating_case, user=consumer, terms=_terms())
    with pytest.raises(NegotiationError) as raised:
        negotiation.withdraw(offer, user=bank_agent)
    assert raised.value.code == "not_yours"
    assert negotiation.withdraw(offer, user=consumer).state == "withdrawn"


# --- blind bidding -------------------------------------------------------------------------------


def _bids(
    case: Case, mediator: User, consumer: User, bank_agent: User, demand: str, offer: str, gap: str = "0"
) -> BlindBidRound:
    bid_round = negotiation.open_round(case, mediator=mediator, agreed_gap=gap)
    negotiation.submit_bid(bid_round, user=consumer, figure=demand)
    bid_round.refresh_from_db()
    assert bid_round.state == "open"
    negotiation.submit_bid(bid_round, user=bank_agent, figure=offer)
    bid_round.refresh_from_db()
    return bid_round


def _everything_recorded(case: Case) -> str:
    """The room, the ledger and the bids as one text, for looking for figures."""
    entries = LedgerEntry.objects.filter(case=case, action__startswith="sessions.")
    ledger = json.dumps(list(entries.values_list("data", flat=True)), ensure_ascii=False)
    bids = json.dumps([str(bid.figure) for bid in BlindBid.objects.all()])
    return "\n".join([*_joint_bodies(case), ledger, bids])


@pytest.mark.parametrize(
    ("demand", "offer", "gap", "state", "amount"),
    [
        ("5137", "6213", "0", "settled", Decimal("5675.00")),  # demand below the offer
        ("4321", "4327.02", "0", "settled", Decimal("4324.01")),
        ("6083", "5791", "300", "settled", Decimal("5937.00")),  # within the agreed gap
        ("6083.01", "5791", "292", "no_overlap", None),  # just outside it
        ("9137", "5029", "300", "no_overlap", None),
    ],
)
def test_a_round_settles_at_the_midpoint_or_reports_no_overlap_and_forgets_the_figures(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    demand: str,
    offer: str,
    gap: str,
    state: str,
    amount: Decimal | None,
) -> None:
    bid_round = _bids(mediating_case, mediator, consumer, bank_agent, demand, offer, gap)

    assert (bid_round.state, bid_round.settled_amount) == (state, amount)
    assert list(BlindBid.objects.filter(round=bid_round).values_list("figure", flat=True)) == [None, None]
    recorded = _everything_recorded(mediating_case)
    for figure in (demand, offer):
        assert figure not in recorded and f"{Decimal(figure):,.2f}" not in recorded
    last = _joint_bodies(mediating_case)[-1]
    if state == "settled":
        assert f"{amount:,.2f}" in last
    else:
        assert last == "第 1 轮双盲报价未能重合。双方的报价均不公开，也不会被记录。"


def test_blind_bidding_rules(mediating_case: Case, consumer: User, bank_agent: User, mediator: User) -> None:
    with pytest.raises(NegotiationError) as raised:
        negotiation.open_round(mediating_case, mediator=consumer)
    assert raised.value.code == "not_mediator"
    bid_round = negotiation.open_round(mediating_case, mediator=mediator, agreed_gap="100")
    with pytest.raises(NegotiationError) as raised:
        negotiation.open_round(mediating_case, mediator=mediator)
    assert raised.value.code == "round_open"
    with pytest.raises(NegotiationError) as raised:
        negotiation.submit_bid(bid_round, user=mediator, figure="100")
    assert raised.value.code == "not_a_party"
    with pytest.raises(NegotiationError) as raised:
        negotiation.submit_bid(bid_round, user=consumer, figure="-1")
    assert (raised.value.code, raised.value.field) == ("invalid_amount", "figure")
    # A side may change its sealed figure until the other side's is in.
    negotiation.submit_bid(bid_round, user=consumer, figure="9000")
    negotiation.submit_bid(bid_round, user=consumer, figure="5000")
    assert BlindBid.objects.get(round=bid_round).figure == Decimal("5000.00")

    cancelled = negotiation.cancel_round(bid_round, mediator=mediator)
    assert cancelled.state == "cancelled" and BlindBid.objects.get(round=bid_round).figure is None
    with pytest.raises(NegotiationError) as raised:
        negotiation.submit_bid(bid_round, user=bank_agent, figure="5000")
    assert raised.value.code == "round_closed"
    assert negotiation.open_round(mediating_case, mediator=mediator).number == 2
