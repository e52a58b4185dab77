"""What the parties agreed in the room, as agreement terms: the latest accepted offer or settled bid.

An offer (``sessions.negotiation.clean_terms``) says an amount, optional instalments, waivers as
free text and other terms as text; the agreement (``signing.terms``) wants a payer, a lump sum
with its due date or an instalment plan, structured waivers and clause lines. The mapping keeps
the template's payer (the direction of payment depends on the dispute, which the offer does not
say) and puts the offer's waivers as clause lines in the parties' own words rather than guessing
a waiver kind and amount. A blind-bidding round that settled gives the amount only: the figures
themselves are never read (they are erased when the round is decided; 在线调解规则 Art 18).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from mediation.models import Case
from sessions import negotiation
from sessions.models import BlindBidRound

# A lump sum the offer gave no date for falls due this many days after the draft is started;
# the mediator edits it with the parties.
LUMP_SUM_DAYS = 15


@dataclass(frozen=True)
class Negotiated:
    """The outcome the draft starts from: offer number or round number, and its terms."""

    kind: str  # "offer" or "blind_bid"
    number: int
    amount: str
    instalments: list[dict[str, str]]
    waivers: list[str]
    other_terms: str

    @property
    def label(self) -> str:
        if self.kind == "offer":
            return _("方案 %(number)s") % {"number": self.number}
        return _("第 %(number)s 轮双盲报价") % {"number": self.number}

    @property
    def note(self) -> str:
        """Which negotiation step the terms came from, for the version's change note."""
        if self.kind == "offer":
            return _("金额、付款方式、减免事项和其他条款取自双方接受的方案 %(number)s。") % {"number": self.number}
        return _("金额取自第 %(number)s 轮双盲报价的和解金额。") % {"number": self.number}


def latest_outcome(case: Case) -> Negotiated | None:
    """The latest of: the last offer both sides accepted, the last blind-bidding round that settled."""
    offer = negotiation.accepted_offer(case)
    bid_round = BlindBidRound.objects.filter(case=case, state=BlindBidRound.State.SETTLED).order_by("-number").first()
    offer_first = (
        offer is not None
        and bid_round is not None
        and (offer.answered_at or offer.created_at) >= (bid_round.decided_at or bid_round.opened_at)
    )
    if offer is not None and (bid_round is None or offer_first):
        terms = offer.terms
        return Negotiated(
            kind="offer",
            number=offer.number,
            amount=str(terms["amount"]),
            instalments=[dict(row) for row in terms.get("instalments") or []],
            waivers=list(terms.get("waivers") or []),
            other_terms=str(terms.get("other_terms") or ""),
        )
    if bid_round is not None and bid_round.settled_amount is not None:
        return Negotiated(
            kind="blind_bid",
            number=bid_round.number,
            amount=str(bid_round.settled_amount),
            instalments=[],
            waivers=[],
            other_terms="",
        )
    return None


def apply(base: Mapping[str, Any], outcome: Negotiated, *, today: datetime.date | None = None) -> dict[str, Any]:
    """``base`` (a draft's terms) with what was negotiated in place of its payment terms.

    The result is not cleaned: ``signing.terms.clean_terms`` still decides whether it is valid
    (an instalment date agreed weeks ago may have passed by now).
    """
    today = today or timezone.localdate()
    terms = dict(base)
    terms["payment_amount"] = outcome.amount
    if outcome.instalments:
        terms["instalments"] = [{"due": row["due_date"], "amount": row["amount"]} for row in outcome.instalments]
        terms["payment_due"] = None
    else:
        terms["instalments"] = []
        terms["payment_due"] = base.get("payment_due") or (today + datetime.timedelta(days=LUMP_SUM_DAYS)).isoformat()
    if outcome.kind == "offer":
        # The offer's waivers are the agreed ones: the template's placeholders go.
        terms["waivers"] = []
        lines = [line for line in base.get("other_terms") or [] if line]
        agreed = [_("减免事项：%(text)s") % {"text": text} for text in outcome.waivers]
        agreed += [line.strip() for line in outcome.other_terms.splitlines() if line.strip()]
        # Applying the same outcome to a draft that already has it changes nothing.
        terms["other_terms"] = lines + [line for line in agreed if line not in lines]
    return terms
