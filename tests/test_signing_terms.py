"""Structured agreement terms: validation with field-keyed errors, the canonical shape, hashing, clauses."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from mediation.models import Case, Organisation
from signing import terms as agreement_terms
from signing.models import DisputeTemplate
from signing.terms import clean_terms, content_hash, describe

TODAY = datetime.date(2026, 11, 22)


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def errors_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        clean_terms(data, today=TODAY)
    return caught.value.message_dict


def instalment_plan(*rows: tuple[int, str], amount: str = "1200.00") -> dict[str, Any]:
    return {
        "payment_amount": amount,
        "instalments": [{"due": day(offset), "amount": part} for offset, part in rows],
    }


# --- canonical shape -------------------------------------------------------------------------------


def test_missing_keys_are_filled_and_amounts_written_with_two_places() -> None:
    cleaned = clean_terms(
        {
            "payment_amount": "1,200.5",
            "instalments": [{"due": day(10), "amount": 600}, {"due": datetime.date(2026, 12, 31), "amount": "600.5"}],
            "waivers": [{"kind": "interest", "amount": Decimal("30"), "description": "  逾期利息 "}],
            "other_terms": ["  一、本协议一式四份。 ", "", "   "],
            "performance": " 转账至本人借记卡。\r\n ",
            "confidentiality": True,
        },
        today=TODAY,
    )
    assert cleaned == {
        "payer": "institution",
        "payment_amount": "1200.50",
        "payment_due": None,
        "instalments": [{"due": day(10), "amount": "600.00"}, {"due": "2026-12-31", "amount": "600.50"}],
        "waivers": [{"kind": "interest", "amount": "30.00", "description": "逾期利息"}],
        "credit_corrections": [],
        "withdraw_complaint": False,
        "confidentiality": True,
        "judicial_confirmation_consent": False,
        "performance": "转账至本人借记卡。",
        "other_terms": ["一、本协议一式四份。"],
    }
    assert list(cleaned) == list(agreement_terms.TERM_KEYS)


def test_cleaning_is_idempotent_and_empty_terms_are_valid() -> None:
    assert clean_terms({}, today=TODAY) == agreement_terms.empty_terms()
    once = clean_terms({"payment_amount": "88", "payment_due": day(3), "payer": "consumer"}, today=TODAY)
    assert once["payment_amount"] == "88.00"
    assert clean_terms(once, today=TODAY) == once


def test_negative_zero_is_written_as_zero() -> None:
    cleaned = clean_terms({"waivers": [{"kind": "fee", "amount": "-0"}]}, today=TODAY)
    assert cleaned["waivers"][0]["amount"] == "0.00"


def test_instalments_adding_up_exactly_are_accepted() -> None:
    cleaned = clean_terms(instalment_plan((1, "400.01"), (31, "400.00"), (61, "399.99")), today=TODAY)
    assert [row["amount"] for row in cleaned["instalments"]] == ["400.01", "400.00", "399.99"]


def test_a_due_date_today_is_not_in_the_past() -> None:
    assert clean_terms({"payment_amount": "1", "payment_due": day(0)}, today=TODAY)["payment_due"] == day(0)


def test_the_default_today_is_the_local_date() -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        clean_terms({"payment_amount": "1", "payment_due": yesterday.isoformat()})
    assert "payment_due" in caught.value.message_dict


# --- each rule, with its error key ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"payment_amount": "-1", "payment_due": day(1)}, "payment_amount", "不能为负数"),
        ({"payment_amount": "12.345", "payment_due": day(1)}, "payment_amount", "两位小数"),
        ({"payment_amount": "一千元", "payment_due": day(1)}, "payment_amount", "金额数字"),
        ({"payment_amount": True, "payment_due": day(1)}, "payment_amount", "金额数字"),
        ({"payment_amount": "NaN", "payment_due": day(1)}, "payment_amount", "金额数字"),
        ({"payment_amount": "1e20", "payment_due": day(1)}, "payment_amount", "超出"),
        ({"payment_amount": "100"}, "payment_due", "一次性付款的期限"),
        ({"payment_amount": "100", "payment_due": day(-1)}, "payment_due", "已经过去"),
        ({"payment_amount": "100", "payment_due": "2026-02-30"}, "payment_due", "有效日期"),
        ({**instalment_plan((5, "1200.00")), "payment_due": day(5)}, "payment_due", "不再填写一次性付款期限"),
        (instalment_plan((10, "600.00"), (10, "600.00")), "instalments", "须晚于上一期"),
        (instalment_plan((20, "600.00"), (10, "600.00")), "instalments", "须晚于上一期"),
        (instalment_plan((-3, "600.00"), (10, "600.00")), "instalments", "已经过去"),
        (instalment_plan((5, "600.00"), (10, "0.00"), (20, "600.00")), "instalments", "须大于 0"),
        (instalment_plan((5, "600.001"), (10, "600.00")), "instalments", "两位小数"),
        (instalment_plan((5, "-600.00"), (10, "1800.00")), "instalments", "不能为负数"),
        ({"instalments": [{"due": day(5), "amount": "10.00"}]}, "instalments", "未填写支付金额"),
        (
            {"instalments": [{"due": day(5), "amount": "10", "note": "x"}], "payment_amount": "10"},
            "instalments",
            "note",
        ),
        ({"instalments": "分两期", "payment_amount": "10"}, "instalments", "列表"),
        ({"waivers": [{"kind": "tax", "amount": "10"}]}, "waivers", "类型"),
        ({"waivers": [{"kind": "fee", "amount": "-10"}]}, "waivers", "不能为负数"),
        ({"waivers": [{"kind": "fee"}]}, "waivers", "金额数字"),
        ({"credit_corrections": [{"description": "", "due": day(5)}]}, "credit_corrections", "请填写"),
        ({"credit_corrections": [{"description": "删除逾期记录", "due": day(-5)}]}, "credit_corrections", "已经过去"),
        ({"withdraw_complaint": "true"}, "withdraw_complaint", "是"),
        ({"confidentiality": 1}, "confidentiality", "是"),
        ({"judicial_confirmation_consent": None}, "judicial_confirmation_consent", "是"),
        ({"payer": "court"}, "payer", "支付方"),
        ({"performance": "很长" * 1001}, "performance", "不能超过"),
        ({"other_terms": "一行"}, "other_terms", "每行一条"),
        ({"other_terms": ["条" * 501]}, "other_terms", "不能超过"),
        ({"interest_rate": "0"}, NON_FIELD_ERRORS, "interest_rate"),
    ],
)
def test_each_rule_reports_its_field(data: dict[str, Any], key: str, fragment: str) -> None:
    errors = errors_of(data)
    assert key in errors, errors
    assert any(fragment in message for message in errors[key]), errors[key]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (((5, "600.00"), (35, "500.00")), "少 100.00 元"),
        (((5, "600.00"), (35, "600.01")), "多 0.01 元"),
    ],
)
def test_instalment_total_mismatch_says_by_how_much(rows: tuple[tuple[int, str], ...], expected: str) -> None:
    errors = errors_of(instalment_plan(*rows))
    assert list(errors) == ["instalments"]
    assert any(expected in message and "1200.00" in message for message in errors["instalments"])


def test_several_problems_are_reported_together() -> None:
    errors = errors_of(
        {
            "payment_amount": "-5",
            "waivers": [{"kind": "gift", "amount": "1"}],
            "confidentiality": "yes",
            "unexpected": 1,
        }
    )
    assert set(errors) == {"payment_amount", "waivers", "confidentiality", NON_FIELD_ERRORS}


def test_non_mapping_terms_are_refused() -> None:
    with pytest.raises(ValidationError):
        clean_terms(["payment_amount", "1"], today=TODAY)  # type: ignore[arg-type]


# --- hashing --------------------------------------------------------------------------------------

BASE_TERMS = clean_terms(
    {
        "payment_amount": "1200.00",
        "instalments": [{"due": day(10), "amount": "600.00"}, {"due": day(40), "amount": "600.00"}],
        "waivers": [{"kind": "fee", "amount": "30.00", "description": "年费"}],
        "credit_corrections": [{"description": "更正逾期记录", "due": day(30)}],
        "withdraw_complaint": True,
        "confidentiality": True,
        "judicial_confirmation_consent": True,
        "performance": "转账",
        "other_terms": ["本协议一式四份"],
    },
    today=TODAY,
)


def test_hash_is_sha256_of_the_sorted_compact_utf8_json() -> None:
    expected = json.dumps(
        {"facts": "事实", "dispute": "争议", "terms": BASE_TERMS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    assert content_hash("事实", "争议", BASE_TERMS) == hashlib.sha256(expected).hexdigest()
    assert b"\\u" not in agreement_terms.canonical_json("事实", "争议", BASE_TERMS)


def test_hash_does_not_depend_on_key_order() -> None:
    reordered = dict(reversed(list(BASE_TERMS.items())))
    assert content_hash("事实", "争议", reordered) == content_hash("事实", "争议", BASE_TERMS)


CHANGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("payer", lambda t: t.update(payer="consumer")),
    ("payment_amount", lambda t: t.update(payment_amount="1200.01")),
    ("payment_due", lambda t: t.update(payment_due=day(9))),
    ("instalment date", lambda t: t["instalments"][1].update(due=day(41))),
    ("instalment amount", lambda t: t["instalments"][0].update(amount="600.01")),
    ("waiver kind", lambda t: t["waivers"][0].update(kind="interest")),
    ("waiver amount", lambda t: t["waivers"][0].update(amount="31.00")),
    ("waiver description", lambda t: t["waivers"][0].update(description="年费及利息")),
    ("credit correction", lambda t: t["credit_corrections"][0].update(due=day(31))),
    ("withdraw_complaint", lambda t: t.update(withdraw_complaint=False)),
    ("confidentiality", lambda t: t.update(confidentiality=False)),
    ("judicial_confirmation_consent", lambda t: t.update(judicial_confirmation_consent=False)),
    ("performance", lambda t: t.update(performance="现金")),
    ("other_terms", lambda t: t.update(other_terms=["本协议一式三份"])),
]


@pytest.mark.parametrize("change", [c for _name, c in CHANGES], ids=[name for name, _c in CHANGES])
def test_hash_changes_with_every_term(change: Callable[[dict[str, Any]], None]) -> None:
    changed = json.loads(json.dumps(BASE_TERMS))
    change(changed)
    assert content_hash("事实", "争议", changed) != content_hash("事实", "争议", BASE_TERMS)


def test_hash_changes_with_facts_and_dispute() -> None:
    base = content_hash("事实", "争议", BASE_TERMS)
    assert content_hash("事实。", "争议", BASE_TERMS) != base
    assert content_hash("事实", "争议。", BASE_TERMS) != base
    # The fields are separate: text moved from one to the other is a different content.
    assert content_hash("事实争", "议", BASE_TERMS) != base


# --- readable clauses -----------------------------------------------------------------------------


def test_describe_reads_as_clauses() -> None:
    lines = describe(BASE_TERMS)
    assert lines[0] == "金融机构向金融消费者支付人民币 1200.00 元，分 2 期支付："
    assert lines[1].startswith("第 1 期：于 2026年12月2日 前支付 600.00 元")
    assert "金融机构减免金融消费者手续费等费用人民币 30.00 元（年费）。" in lines
    assert any("征信更正：更正逾期记录" in line for line in lines)
    assert any("撤回本案投诉" in line for line in lines)
    assert any("保密义务" in line for line in lines)
    assert any("司法确认" in line for line in lines)
    assert lines[-1] == "本协议一式四份"


def test_describe_lump_sum_and_nothing() -> None:
    lump = clean_terms({"payer": "consumer", "payment_amount": "50", "payment_due": "2026-12-31"}, today=TODAY)
    assert describe(lump) == ["金融消费者于 2026年12月31日 前向金融机构一次性支付人民币 50.00 元。"]
    assert describe(agreement_terms.empty_terms()) == []


# --- templates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "issue", "template"),
    [
        ("credit_card", "interest_fees", DisputeTemplate.CREDIT_CARD),
        ("mortgage", "early_repayment", DisputeTemplate.LOAN),
        ("insurance_claim", "claim_refused", DisputeTemplate.INSURANCE_CLAIM),
        ("wealth_management", "mis_selling", DisputeTemplate.WEALTH_MIS_SELLING),
        ("payment", "failed_transfer", DisputeTemplate.PAYMENT_SERVICE),
        ("deposit", "missing_funds", DisputeTemplate.GENERAL),
    ],
)
def test_template_follows_the_product_category(
    make_case: Callable[..., Case], category: str, issue: str, template: DisputeTemplate
) -> None:
    case = make_case(product_category=category, issue_type=issue)
    assert agreement_terms.template_for_case(case) == template


def test_credit_card_template_proposes_waivers_and_credit_correction(make_case: Callable[..., Case]) -> None:
    case = make_case(description="银行多收了年费和利息。", requested_outcome="退还年费。", amount="360.00")
    facts, dispute, terms = agreement_terms.template_defaults(DisputeTemplate.CREDIT_CARD, case, today=TODAY)
    assert "银行多收了年费和利息。" in facts and "张三" in facts
    assert "退还年费。" in dispute and "利息、违约金及费用" in dispute
    assert {w["kind"] for w in terms["waivers"]} == {"fee", "interest"}
    assert terms["waivers"][0]["amount"] == "360.00"
    assert terms["credit_corrections"] and terms["credit_corrections"][0]["due"] == day(30)
    assert terms["confidentiality"] and terms["judicial_confirmation_consent"]
    assert clean_terms(terms, today=TODAY) == terms


def test_insurance_claim_template_proposes_a_lump_sum_by_the_insurer(
    make_case: Callable[..., Case], insurer: Organisation
) -> None:
    case = make_case(institution=insurer, product_category="insurance_claim", issue_type="claim_refused", amount="8800")
    _facts, _dispute, terms = agreement_terms.template_defaults(DisputeTemplate.INSURANCE_CLAIM, case, today=TODAY)
    assert terms["payer"] == "institution"
    assert terms["payment_amount"] == "8800.00"
    assert terms["payment_due"] == day(10)
    assert terms["instalments"] == [] and terms["waivers"] == []


@pytest.mark.parametrize("template", DisputeTemplate.values)
def test_every_template_proposes_confidentiality_and_judicial_confirmation(
    make_case: Callable[..., Case], template: str
) -> None:
    _facts, _dispute, terms = agreement_terms.template_defaults(template, make_case(), today=TODAY)
    assert terms["confidentiality"] is True
    assert terms["judicial_confirmation_consent"] is True
    assert clean_terms(terms, today=TODAY) == terms
