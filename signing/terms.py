"""The structured terms of a mediation agreement (人民调解法 Art 29: the terms, how and by when performed).

``AgreementVersion.terms`` holds one JSON object in the canonical shape ``clean_terms`` returns:
every key present, amounts as decimal strings with two places ("1200.00"), dates as ISO strings.
The same canonical form feeds ``content_hash``, so a version's hash does not depend on how the
terms were typed. ``describe`` turns the terms into readable clause lines for pages and diffs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mediation.classification import ProductCategory, issue_type_label
from mediation.models import Case, CaseParticipant
from signing.models import DisputeTemplate

PAYERS: dict[str, Any] = {
    "institution": gettext_lazy("金融机构"),
    "consumer": gettext_lazy("金融消费者"),
}
WAIVER_KINDS: dict[str, Any] = {
    "fee": gettext_lazy("手续费等费用"),
    "interest": gettext_lazy("利息"),
    "penalty": gettext_lazy("违约金及罚息"),
}
BOOLEAN_KEYS = ("withdraw_complaint", "confidentiality", "judicial_confirmation_consent")
TERM_KEYS = (
    "payer",
    "payment_amount",
    "payment_due",
    "instalments",
    "waivers",
    "credit_corrections",
    *BOOLEAN_KEYS,
    "performance",
    "other_terms",
)
CENT = Decimal("0.01")
# Case.amount_in_dispute has 14 digits, 2 of them decimals.
MAX_AMOUNT = Decimal("999999999999.99")
MAX_ROWS = 60
MAX_TEXT = 2000
MAX_LINE = 500


def empty_terms() -> dict[str, Any]:
    """The canonical shape with nothing agreed yet."""
    return {
        "payer": "institution",
        "payment_amount": None,
        "payment_due": None,
        "instalments": [],
        "waivers": [],
        "credit_corrections": [],
        "withdraw_complaint": False,
        "confidentiality": False,
        "judicial_confirmation_consent": False,
        "performance": "",
        "other_terms": [],
    }


class _Errors:
    def __init__(self) -> None:
        self.by_key: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.by_key.setdefault(key, []).append(message)


def _amount(value: Any) -> Decimal | None:
    """The value as a non-negative amount in cents, or None if it is not one (raises nothing)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return amount


def _clean_amount(value: Any, errors: _Errors, key: str, label: str) -> Decimal | None:
    amount = _amount(value)
    if amount is None:
        errors.add(key, _("%(label)s须为金额数字，例如 1200.00。") % {"label": label})
        return None
    if amount < 0:
        errors.add(key, _("%(label)s不能为负数。") % {"label": label})
        return None
    if amount != amount.quantize(CENT):
        errors.add(key, _("%(label)s最多保留两位小数（精确到分）。") % {"label": label})
        return None
    if amount > MAX_AMOUNT:
        errors.add(key, _("%(label)s超出允许的范围。") % {"label": label})
        return None
    # copy_abs: "-0" is a valid zero but must not be written as "-0.00".
    return amount.quantize(CENT).copy_abs()


def _clean_date(value: Any, errors: _Errors, key: str, label: str, today: datetime.date) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        day: datetime.date | None = value.date()
    elif isinstance(value, datetime.date):
        day = value
    elif isinstance(value, str):
        try:
            day = datetime.date.fromisoformat(value.strip())
        except ValueError:
            day = None
    else:
        day = None
    if day is None:
        errors.add(key, _("%(label)s须为有效日期（年-月-日）。") % {"label": label})
        return None
    if day < today:
        errors.add(key, _("%(label)s（%(date)s）已经过去，请填写今天或以后的日期。") % {"label": label, "date": day})
        return None
    return day


def _clean_text(value: Any, errors: _Errors, key: str, label: str, limit: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(key, _("%(label)s须为文字。") % {"label": label})
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        errors.add(key, _("请填写%(label)s。") % {"label": label})
    elif len(text) > limit:
        errors.add(
            key,
            _("%(label)s不能超过 %(limit)s 个字（现有 %(count)s 个）。")
            % {"label": label, "limit": limit, "count": len(text)},
        )
    return text


def _rows(value: Any, errors: _Errors, key: str, label: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.add(key, _("%(label)s须为列表。") % {"label": label})
        return []
    if len(value) > MAX_ROWS:
        errors.add(key, _("%(label)s最多 %(limit)s 项。") % {"label": label, "limit": MAX_ROWS})
        return []
    rows = []
    for n, row in enumerate(value, start=1):
        if not isinstance(row, Mapping):
            errors.add(key, _("%(label)s第 %(n)s 项格式不正确。") % {"label": label, "n": n})
            continue
        rows.append(row)
    return rows


def _refuse_unknown(row: Mapping[str, Any], allowed: set[str], errors: _Errors, key: str, where: str) -> None:
    unknown = sorted(str(k) for k in row if k not in allowed)
    if unknown:
        errors.add(key, _("%(where)s含有不支持的字段：%(keys)s。") % {"where": where, "keys": "、".join(unknown)})


def _clean_instalments(
    value: Any, amount: Decimal | None, amount_ok: bool, errors: _Errors, today: datetime.date
) -> list[dict[str, str]]:
    key = "instalments"
    rows = _rows(value, errors, key, _("分期付款计划"))
    cleaned: list[dict[str, str]] = []
    all_ok = True
    previous: datetime.date | None = None
    total = Decimal("0.00")
    for n, row in enumerate(rows, start=1):
        where = _("第 %(n)s 期") % {"n": n}
        _refuse_unknown(row, {"due", "amount"}, errors, key, where)
        due = _clean_date(row.get("due"), errors, key, _("%(where)s的付款日期") % {"where": where}, today)
        part = _clean_amount(row.get("amount"), errors, key, _("%(where)s的金额") % {"where": where})
        if part is not None and part == 0:
            errors.add(key, _("%(where)s的金额须大于 0。") % {"where": where})
            part = None
        if due is not None and previous is not None and due <= previous:
            errors.add(
                key,
                _("%(where)s的付款日期（%(date)s）须晚于上一期（%(previous)s）。")
                % {"where": where, "date": due, "previous": previous},
            )
        if due is not None:
            previous = due
        if due is None or part is None:
            all_ok = False
            continue
        total += part
        cleaned.append({"due": due.isoformat(), "amount": str(part)})
    if cleaned and all_ok and amount_ok:
        if amount is None:
            errors.add(
                key,
                _("分期金额合计 %(total)s 元，但未填写支付金额。请填写支付金额。") % {"total": total.quantize(CENT)},
            )
        elif total != amount:
            difference = (total - amount).copy_abs()
            message = (
                _("分期金额合计 %(total)s 元，比支付金额 %(amount)s 元多 %(difference)s 元，两者须完全一致。")
                if total > amount
                else _("分期金额合计 %(total)s 元，比支付金额 %(amount)s 元少 %(difference)s 元，两者须完全一致。")
            )
            errors.add(key, message % {"total": total, "amount": amount, "difference": difference})
    return cleaned


def _clean_waivers(value: Any, errors: _Errors) -> list[dict[str, str]]:
    key = "waivers"
    cleaned: list[dict[str, str]] = []
    for n, row in enumerate(_rows(value, errors, key, _("减免事项")), start=1):
        where = _("第 %(n)s 项减免") % {"n": n}
        _refuse_unknown(row, {"kind", "amount", "description"}, errors, key, where)
        kind = row.get("kind")
        if kind not in WAIVER_KINDS:
            errors.add(
                key,
                _("%(where)s的类型须为以下之一：%(kinds)s。")
                % {"where": where, "kinds": "、".join(str(label) for label in WAIVER_KINDS.values())},
            )
        amount = _clean_amount(row.get("amount"), errors, key, _("%(where)s的金额") % {"where": where})
        description = _clean_text(
            row.get("description"), errors, key, _("%(where)s的说明") % {"where": where}, MAX_LINE, required=False
        )
        if kind in WAIVER_KINDS and amount is not None:
            cleaned.append({"kind": str(kind), "amount": str(amount), "description": description})
    return cleaned


def _clean_credit_corrections(value: Any, errors: _Errors, today: datetime.date) -> list[dict[str, str]]:
    key = "credit_corrections"
    cleaned: list[dict[str, str]] = []
    for n, row in enumerate(_rows(value, errors, key, _("征信更正事项")), start=1):
        where = _("第 %(n)s 项征信更正") % {"n": n}
        _refuse_unknown(row, {"description", "due"}, errors, key, where)
        description = _clean_text(
            row.get("description"), errors, key, _("%(where)s的内容") % {"where": where}, MAX_LINE, required=True
        )
        due = _clean_date(row.get("due"), errors, key, _("%(where)s的完成期限") % {"where": where}, today)
        if description and due is not None:
            cleaned.append({"description": description, "due": due.isoformat()})
    return cleaned


def clean_terms(data: Mapping[str, Any], *, today: datetime.date | None = None) -> dict[str, Any]:
    """Validate the terms and return them in canonical shape, or raise ValidationError keyed by field.

    ``today`` (default: the local date) is the earliest date a payment or correction may fall on.
    """
    if not isinstance(data, Mapping):
        raise ValidationError({NON_FIELD_ERRORS: [_("协议条款格式不正确。")]})
    today = today or timezone.localdate()
    errors = _Errors()
    unknown = sorted(str(k) for k in data if k not in TERM_KEYS)
    if unknown:
        errors.add(NON_FIELD_ERRORS, _("协议条款含有不支持的字段：%(keys)s。") % {"keys": "、".join(unknown)})
    terms = empty_terms()

    payer = data.get("payer", "institution")
    if payer not in PAYERS:
        errors.add("payer", _("支付方须为金融机构或金融消费者。"))
    else:
        terms["payer"] = payer

    amount: Decimal | None = None
    amount_ok = True
    raw_amount = data.get("payment_amount")
    if raw_amount is not None and raw_amount != "":
        amount = _clean_amount(raw_amount, errors, "payment_amount", _("支付金额"))
        amount_ok = amount is not None
    terms["payment_amount"] = str(amount) if amount is not None else None

    terms["instalments"] = _clean_instalments(data.get("instalments"), amount, amount_ok, errors, today)
    has_instalments = bool(terms["instalments"]) or bool(errors.by_key.get("instalments"))

    raw_due = data.get("payment_due")
    if raw_due is not None and raw_due != "":
        if has_instalments:
            errors.add("payment_due", _("已约定分期付款的，不再填写一次性付款期限。"))
        else:
            due = _clean_date(raw_due, errors, "payment_due", _("付款期限"), today)
            terms["payment_due"] = due.isoformat() if due is not None else None
    elif amount is not None and amount > 0 and not has_instalments:
        # 人民调解法 Art 29: the agreement says by when each obligation is performed.
        errors.add("payment_due", _("请填写一次性付款的期限，或填写分期付款计划。"))

    terms["waivers"] = _clean_waivers(data.get("waivers"), errors)
    terms["credit_corrections"] = _clean_credit_corrections(data.get("credit_corrections"), errors, today)

    for key in BOOLEAN_KEYS:
        value = data.get(key, False)
        if not isinstance(value, bool):
            errors.add(key, _("该项只能选择“是”或“否”。"))
        else:
            terms[key] = value

    terms["performance"] = _clean_text(
        data.get("performance"), errors, "performance", _("履行方式"), MAX_TEXT, required=False
    )

    other = data.get("other_terms")
    if other is None:
        other = []
    if not isinstance(other, list | tuple) or not all(isinstance(line, str) for line in other):
        errors.add("other_terms", _("其他条款须为文字，每行一条。"))
    else:
        lines = [line.strip() for line in other if line.strip()]
        if len(lines) > MAX_ROWS:
            errors.add("other_terms", _("其他条款最多 %(limit)s 条。") % {"limit": MAX_ROWS})
        for n, line in enumerate(lines, start=1):
            if len(line) > MAX_LINE:
                errors.add(
                    "other_terms", _("第 %(n)s 条其他条款不能超过 %(limit)s 个字。") % {"n": n, "limit": MAX_LINE}
                )
        terms["other_terms"] = lines

    if errors.by_key:
        raise ValidationError(errors.by_key)
    return terms


def canonical_json(facts: str, dispute: str, terms: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {"facts": facts, "dispute": dispute, "terms": terms}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def content_hash(facts: str, dispute: str, terms: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a version's content: what finalisation freezes."""
    return hashlib.sha256(canonical_json(facts, dispute, terms)).hexdigest()


# --- readable clauses ---------------------------------------------------------------------------


def format_date(value: str | None) -> str:
    if not value:
        return ""
    day = datetime.date.fromisoformat(value)
    return _("%(year)s年%(month)s月%(day)s日") % {"year": day.year, "month": day.month, "day": day.day}


# One sentence per direction of payment, so that each language can word it whole.
PAYMENT_CLAUSES: dict[str, dict[str, Any]] = {
    "institution": {
        "instalments": gettext_lazy("金融机构向金融消费者支付人民币 %(amount)s 元，分 %(count)s 期支付："),
        "lump_sum": gettext_lazy("金融机构于 %(date)s 前向金融消费者一次性支付人民币 %(amount)s 元。"),
        "undated": gettext_lazy("金融机构向金融消费者支付人民币 %(amount)s 元。"),
    },
    "consumer": {
        "instalments": gettext_lazy("金融消费者向金融机构支付人民币 %(amount)s 元，分 %(count)s 期支付："),
        "lump_sum": gettext_lazy("金融消费者于 %(date)s 前向金融机构一次性支付人民币 %(amount)s 元。"),
        "undated": gettext_lazy("金融消费者向金融机构支付人民币 %(amount)s 元。"),
    },
}


def describe(terms: Mapping[str, Any]) -> list[str]:
    """The terms as clause lines in plain Chinese, one obligation per line (pages, diffs, the PDF)."""
    lines: list[str] = []
    clauses = PAYMENT_CLAUSES.get(str(terms.get("payer")), PAYMENT_CLAUSES["institution"])
    amount = terms.get("payment_amount")
    instalments = terms.get("instalments") or []
    if amount is not None:
        if instalments:
            lines.append(str(clauses["instalments"]) % {"amount": amount, "count": len(instalments)})
            for n, row in enumerate(instalments, start=1):
                lines.append(
                    _("第 %(n)s 期：于 %(date)s 前支付 %(amount)s 元；")
                    % {"n": n, "date": format_date(row["due"]), "amount": row["amount"]}
                )
        elif terms.get("payment_due"):
            lines.append(str(clauses["lump_sum"]) % {"amount": amount, "date": format_date(terms["payment_due"])})
        else:
            lines.append(str(clauses["undated"]) % {"amount": amount})
    for row in terms.get("waivers") or []:
        kind = str(WAIVER_KINDS.get(row.get("kind", ""), row.get("kind", "")))
        values = {"kind": kind, "amount": row.get("amount"), "description": row.get("description")}
        if row.get("description"):
            lines.append(_("金融机构减免金融消费者%(kind)s人民币 %(amount)s 元（%(description)s）。") % values)
        else:
            lines.append(_("金融机构减免金融消费者%(kind)s人民币 %(amount)s 元。") % values)
    for row in terms.get("credit_corrections") or []:
        lines.append(
            _("金融机构于 %(date)s 前办理征信更正：%(description)s。")
            % {"date": format_date(row.get("due")), "description": str(row.get("description", "")).rstrip("。")}
        )
    if terms.get("performance"):
        lines.append(_("履行方式：%(text)s") % {"text": " ".join(str(terms["performance"]).split())})
    if terms.get("withdraw_complaint"):
        lines.append(_("上述义务履行完毕后，金融消费者撤回本案投诉，不再就同一事项重复投诉。"))
    if terms.get("confidentiality"):
        lines.append(_("各方对调解过程及本协议内容负有保密义务，法律另有规定的除外。"))
    if terms.get("judicial_confirmation_consent"):
        lines.append(_("双方同意自本协议生效之日起三十日内共同向有管辖权的人民法院申请司法确认。"))
    lines.extend(str(line) for line in terms.get("other_terms") or [])
    return lines


# --- templates ------------------------------------------------------------------------------------

CATEGORY_TEMPLATES: dict[str, str] = {
    ProductCategory.CREDIT_CARD: DisputeTemplate.CREDIT_CARD,
    ProductCategory.PERSONAL_LOAN: DisputeTemplate.LOAN,
    ProductCategory.MORTGAGE: DisputeTemplate.LOAN,
    ProductCategory.INSURANCE_CLAIM: DisputeTemplate.INSURANCE_CLAIM,
    ProductCategory.WEALTH_MANAGEMENT: DisputeTemplate.WEALTH_MIS_SELLING,
    ProductCategory.PAYMENT: DisputeTemplate.PAYMENT_SERVICE,
}


def template_for_case(case: Case) -> DisputeTemplate:
    return DisputeTemplate(CATEGORY_TEMPLATES.get(case.product_category, DisputeTemplate.GENERAL))


def _in_days(today: datetime.date, days: int) -> str:
    return (today + datetime.timedelta(days=days)).isoformat()


def template_defaults(
    template: str, case: Case, *, today: datetime.date | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The first draft a template proposes: facts from the complaint, the dispute, default terms.

    Every template proposes confidentiality (在线调解规则 Art 29) and the parties' joint consent to
    apply for judicial confirmation (民事诉讼法 Art 205); the mediator edits the rest.
    """
    today = today or timezone.localdate()
    consumer = (
        case.participants.filter(capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True)
        .select_related("user")
        .first()
    )
    consumer_name = consumer.user.display_name if consumer else str(PAYERS["consumer"])
    facts = (
        _("金融消费者%(consumer)s与%(institution)s因%(category)s业务发生纠纷。金融消费者陈述：")
        % {
            "consumer": consumer_name,
            "institution": case.institution.name,
            "category": case.get_product_category_display(),
        }
        + "\n"
        + case.description.strip()
    )
    dispute = (
        _("双方就%(issue)s存在争议。金融消费者的诉求：")
        % {"issue": issue_type_label(case.product_category, case.issue_type)}
        + "\n"
        + case.requested_outcome.strip()
    )
    disputed = case.amount_in_dispute.quantize(CENT) if case.amount_in_dispute else Decimal("0.00")
    terms = empty_terms()
    terms.update(withdraw_complaint=True, confidentiality=True, judicial_confirmation_consent=True)
    correction = {
        "description": _("向金融信用信息基础数据库报送更正，消除本案所涉不良记录"),
        "due": _in_days(today, 30),
    }
    if template == DisputeTemplate.CREDIT_CARD:
        terms["waivers"] = [
            {"kind": "fee", "amount": str(disputed), "description": _("减免本案争议所涉费用")},
            {"kind": "interest", "amount": "0.00", "description": _("减免争议期间产生的利息")},
        ]
        terms["credit_corrections"] = [correction]
        terms["performance"] = _("金融机构在信用卡账户中直接冲减上述费用和利息，并将调整后的账单告知金融消费者。")
    elif template == DisputeTemplate.LOAN:
        terms["payer"] = "consumer"
        terms["waivers"] = [{"kind": "penalty", "amount": "0.00", "description": _("减免逾期期间产生的罚息")}]
        terms["credit_corrections"] = [correction]
        terms["performance"] = _("金融消费者按约定期限向原还款账户还款，金融机构在还款后出具结清证明。")
    elif template == DisputeTemplate.INSURANCE_CLAIM:
        if disputed > 0:
            # 保险法 Art 23: the insurer pays within ten days of agreeing on the amount.
            terms.update(payment_amount=str(disputed), payment_due=_in_days(today, 10))
        terms["performance"] = _("保险公司将保险金转入金融消费者指定的银行账户。")
    elif template in (DisputeTemplate.WEALTH_MIS_SELLING, DisputeTemplate.PAYMENT_SERVICE):
        if disputed > 0:
            terms.update(payment_amount=str(disputed), payment_due=_in_days(today, 15))
        terms["performance"] = _("金融机构将款项转入金融消费者指定的银行账户。")
    return facts, dispute, clean_terms(terms, today=today)
