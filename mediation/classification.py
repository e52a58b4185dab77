"""The fixed classification of financial consumer disputes: product category → issue types.

Codes are stable (they are stored on cases and used in statistics); labels are translated.
The categories follow the regulator's complaint statistics (银行业保险业消费投诉处理管理办法).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


class ProductCategory(models.TextChoices):
    CREDIT_CARD = "credit_card", _("信用卡")
    PERSONAL_LOAN = "personal_loan", _("个人贷款")
    MORTGAGE = "mortgage", _("住房按揭贷款")
    DEPOSIT = "deposit", _("储蓄存款")
    WEALTH_MANAGEMENT = "wealth_management", _("理财及代销产品")
    INSURANCE_CLAIM = "insurance_claim", _("保险理赔")
    INSURANCE_SALES = "insurance_sales", _("保险销售")
    PAYMENT = "payment", _("支付结算")
    DEBT_COLLECTION = "debt_collection", _("催收")
    FEES = "fees", _("服务收费")


ISSUE_TYPES: dict[str, list[tuple[str, StrOrPromise]]] = {
    ProductCategory.CREDIT_CARD: [
        ("interest_fees", _("利息、违约金及费用")),
        ("unauthorised_transaction", _("盗刷及未授权交易")),
        ("instalment", _("分期及息费展示")),
        ("credit_limit", _("额度调整及停卡")),
        ("credit_record", _("征信记录")),
    ],
    ProductCategory.PERSONAL_LOAN: [
        ("interest_fees", _("利息及费用")),
        ("repayment", _("还款、提前还款及展期")),
        ("bundled_sales", _("捆绑搭售")),
        ("credit_record", _("征信记录")),
        ("disclosure", _("合同条款及信息披露")),
    ],
    ProductCategory.MORTGAGE: [
        ("rate_adjustment", _("利率调整及重定价")),
        ("early_repayment", _("提前还款")),
        ("release_of_mortgage", _("抵押登记及解押")),
        ("credit_record", _("征信记录")),
    ],
    ProductCategory.DEPOSIT: [
        ("account_restriction", _("账户冻结及限制")),
        ("missing_funds", _("存款短少")),
        ("account_opening", _("开户及销户")),
        ("interest", _("存款利息")),
    ],
    ProductCategory.WEALTH_MANAGEMENT: [
        ("mis_selling", _("误导销售及适当性")),
        ("loss", _("产品亏损及净值")),
        ("redemption", _("赎回及到期兑付")),
        ("disclosure", _("信息披露")),
    ],
    ProductCategory.INSURANCE_CLAIM: [
        ("claim_refused", _("拒赔")),
        ("claim_amount", _("理赔金额争议")),
        ("claim_delay", _("理赔时效")),
        ("material_requests", _("理赔材料要求")),
    ],
    ProductCategory.INSURANCE_SALES: [
        ("mis_selling", _("销售误导")),
        ("surrender", _("退保及犹豫期")),
        ("policy_terms", _("保单条款及变更")),
        ("renewal", _("续保及续期")),
    ],
    ProductCategory.PAYMENT: [
        ("failed_transfer", _("转账汇款失败或延迟")),
        ("fraud", _("电信网络诈骗相关")),
        ("merchant_dispute", _("商户交易争议")),
        ("account_security", _("支付账户安全")),
    ],
    ProductCategory.DEBT_COLLECTION: [
        ("harassment", _("暴力及骚扰催收")),
        ("third_party_contact", _("联系无关第三人")),
        ("amount_disputed", _("欠款金额争议")),
        ("outsourcing", _("委外催收")),
    ],
    ProductCategory.FEES: [
        ("unauthorised_fee", _("未经同意收费")),
        ("fee_disclosure", _("收费标准公示")),
        ("fee_refund", _("费用退还")),
    ],
}


def issue_type_choices(category: str) -> list[tuple[str, StrOrPromise]]:
    return list(ISSUE_TYPES.get(category, []))


def all_issue_type_choices() -> list[tuple[str, StrOrPromise]]:
    """Every (code, label) pair, codes unique across categories by prefixing the category."""
    return [(f"{category}.{code}", label) for category, types in ISSUE_TYPES.items() for code, label in types]


def issue_type_label(category: str, issue_type: str) -> str:
    return str(dict(ISSUE_TYPES.get(category, [])).get(issue_type, issue_type))
