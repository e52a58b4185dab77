"""An accepted offer (or a settled blind bid) pre-fills the agreement draft, and says where from."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mediation.models import Case, LedgerEntry, User
from sessions import negotiation
from sessions.models import BlindBid
from signing import drafting, negotiated
from signing import terms as agreement_terms
from signing.drafting import DraftingError
from signing.models import Agreement

pytestmark = pytest.mark.django_db


def day(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def offer_terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "amount": "6000.50",
        "instalments": [
            {"due_date": day(30), "amount": "2000.00"},
            {"due_date": day(60), "amount": "2000.25"},
            {"due_date": day(90), "amount": "2000.25"},
        ],
        "waivers": ["免除逾期利息", "免除违约金"],
        "other_terms": "银行出具结清证明。\n撤销催收。",
    }
    terms.update(changes)
    return terms


def accepted(case: Case, proposer: User, answerer: User, terms: dict[str, Any]) -> int:
    offer = negotiation.propose(case, user=proposer, terms=terms)
    return negotiation.answer(offer, user=answerer, accept=True).number


def test_instalments_waivers_and_other_terms_map_onto_the_agreement_and_add_up(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    negotiation.propose(mediating_case, user=consumer, terms=offer_terms(amount="9000", instalments=[]))
    number = accepted(mediating_case, bank_agent, consumer, offer_terms())

    agreement = drafting.start_agreement(mediating_case, actor=mediator)

    version = agreement.versions.get()
    terms = version.terms
    assert terms == agreement_terms.clean_terms(terms)  # canonical, so the hash is stable
    assert terms["payment_amount"] == "6000.50" and terms["payment_due"] is None
    assert terms["instalments"] == [
        {"due": day(30), "amount": "2000.00"},
        {"due": day(60), "amount": "2000.25"},
        {"due": day(90), "amount": "2000.25"},
    ]
    assert sum(Decimal(row["amount"]) for row in terms["instalments"]) == Decimal(terms["payment_amount"])
    assert terms["waivers"] == []  # the template's placeholders give way to what was agreed
    assert terms["other_terms"] == [
        "减免事项：免除逾期利息",
        "减免事项：免除违约金",
        "银行出具结清证明。",
        "撤销催收。",
    ]
    assert terms["confidentiality"] and terms["judicial_confirmation_consent"]  # the template's own clauses stay
    assert f"取自双方接受的方案 {number}" in version.change_note
    entry = LedgerEntry.objects.get(case=mediating_case, action="signing.agreement.started")
    assert entry.data["negotiated"] == {"kind": "offer", "number": number}
    assert "分 3 期支付" in agreement_terms.describe(terms)[0]


def test_a_lump_sum_offer_gets_a_due_date_the_mediator_can_edit(
    mediating_case: Case, consumer: User, bank_agent: User
) -> None:
    accepted(mediating_case, bank_agent, consumer, offer_terms(instalments=[], waivers=[], other_terms=""))
    outcome = negotiated.latest_outcome(mediating_case)
    assert outcome is not None
    base = agreement_terms.empty_terms()

    terms = agreement_terms.clean_terms(negotiated.apply(base, outcome))

    assert terms["payment_amount"] == "6000.50" and terms["instalments"] == []
    assert terms["payment_due"] == day(negotiated.LUMP_SUM_DAYS)
    assert terms["payer"] == "institution" and terms["other_terms"] == []


def test_a_settled_blind_bid_gives_the_midpoint_amount_and_never_a_figure(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    bid_round = negotiation.open_round(mediating_case, mediator=mediator, agreed_gap="500")
    negotiation.submit_bid(bid_round, user=consumer, figure="5200")
    negotiation.submit_bid(bid_round, user=bank_agent, figure="5000")
    assert not BlindBid.objects.filter(figure__isnull=False).exists()

    agreement = drafting.start_agreement(mediating_case, actor=mediator)

    version = agreement.versions.get()
    assert version.terms["payment_amount"] == "5100.00" and version.terms["instalments"] == []
    assert "第 1 轮双盲报价" in version.change_note
    assert "5200" not in str(version.terms) and "5000.00" not in str(version.terms)


def test_the_latest_of_offer_and_bid_wins(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    bid_round = negotiation.open_round(mediating_case, mediator=mediator, agreed_gap="0")
    negotiation.submit_bid(bid_round, user=consumer, figure="3000")
    negotiation.submit_bid(bid_round, user=bank_agent, figure="3000")
    outcome = negotiated.latest_outcome(mediating_case)
    assert outcome is not None and (outcome.kind, outcome.amount) == ("blind_bid", "3000.00")

    number = accepted(mediating_case, consumer, bank_agent, offer_terms(instalments=[]))

    outcome = negotiated.latest_outcome(mediating_case)
    assert outcome is not None and (outcome.kind, outcome.number) == ("offer", number)


def test_without_an_agreed_outcome_the_template_stands(mediating_case: Case, consumer: User, mediator: User) -> None:
    negotiation.propose(mediating_case, user=consumer, terms=offer_terms())  # open, not accepted

    agreement = drafting.start_agreement(mediating_case, actor=mediator)

    version = agreement.versions.get()
    assert "方案" not in version.change_note and version.terms["payment_amount"] != "6000.50"
    with pytest.raises(DraftingError, match="还没有双方接受的方案"):
        drafting.use_negotiated(agreement, actor=mediator)


def test_an_instalment_date_that_has_passed_leaves_the_template_and_says_why(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted(mediating_case, bank_agent, consumer, offer_terms())
    later = timezone.localdate() + datetime.timedelta(days=45)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: later)

    agreement = drafting.start_agreement(mediating_case, actor=mediator)

    version = agreement.versions.get()
    assert "未能采用协商结果（方案 1）" in version.change_note and "已经过去" in version.change_note
    assert version.terms["payment_amount"] != "6000.50"
    assert "negotiated" not in LedgerEntry.objects.get(action="signing.agreement.started").data


def test_the_mediator_writes_an_offer_accepted_later_into_a_new_draft(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    agreement = drafting.start_agreement(mediating_case, actor=mediator)
    number = accepted(mediating_case, bank_agent, consumer, offer_terms())
    client = Client()
    client.force_login(mediator)

    page = client.get(reverse("signing:agreement", kwargs={"case_pk": mediating_case.pk}))
    assert f"采用协商结果（方案 {number}）生成新的一稿" in page.content.decode()
    response = client.post(reverse("signing:use_negotiated", kwargs={"case_pk": mediating_case.pk}))

    assert response.status_code == 302 and response["Location"].endswith("/versions/2/")
    version = agreement.versions.get(number=2)
    assert version.terms["payment_amount"] == "6000.50" and len(version.terms["instalments"]) == 3
    assert version.change_note == f"金额、付款方式、减免事项和其他条款取自双方接受的方案 {number}。"
    assert version.facts == agreement.versions.get(number=1).facts
    # Again: the same content, so no new draft, and the mediator is told why.
    again = client.post(reverse("signing:use_negotiated", kwargs={"case_pk": mediating_case.pk}), follow=True)
    assert "内容与第 2 稿完全相同" in again.content.decode()
    assert Agreement.objects.get(pk=agreement.pk).versions.count() == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_only_the_mediator_may_use_the_offer_and_outsiders_get_404(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, outsider: User, method: str
) -> None:
    drafting.start_agreement(mediating_case, actor=mediator)
    accepted(mediating_case, bank_agent, consumer, offer_terms())
    url = reverse("signing:use_negotiated", kwargs={"case_pk": mediating_case.pk})

    def status(user: User) -> int:
        client = Client()
        client.force_login(user)
        return int(getattr(client, method)(url).status_code)

    assert status(outsider) == 404
    assert status(consumer) == 403
    if method == "get":
        assert status(mediator) == 405
    assert Agreement.objects.get(case=mediating_case).versions.count() == 1
