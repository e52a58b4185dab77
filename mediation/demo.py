"""Demo data: organisations, one account per role, and a case in every state of the lifecycle.

Cases are driven through the real services (``mediation.services``), so their transitions, clocks
and ledger entries are the same as in production. Everything is keyed (usernames, credit codes,
the 【演示】 marker in a case's description), so loading again finds what exists and adds only
what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from stdnum.cn import ric, uscc

from mediation import permissions, services
from mediation.classification import ProductCategory
from mediation.models import (
    Case,
    CaseState,
    IntakeChannel,
    NotAcceptedReason,
    Organisation,
    Role,
    TerminationReason,
    User,
)

DEMO_MARKER = "【演示】"


def credit_code(prefix: str, serial: int) -> str:
    """A unified social credit code with a valid GB 32100 check character."""
    body = f"{prefix}{serial:09d}"
    return body + uscc.calc_check_digit(body)


def resident_id(region: str, birth: str, serial: int) -> str:
    """A resident ID number with a valid GB 11643 check digit."""
    body = f"{region}{birth}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass(frozen=True)
class OrganisationSpec:
    key: str
    kind: str
    name: str
    credit_code: str
    parent: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()


ORGANISATIONS = [
    OrganisationSpec(
        "centre",
        Organisation.Kind.CENTRE,
        "广东金融消费纠纷调解中心",
        credit_code("52440000", 1),
        fields=(("region", "广东省广州市"), ("address", "广州市天河区珠江新城华夏路10号")),
    ),
    OrganisationSpec(
        "bank",
        Organisation.Kind.INSTITUTION,
        "粤海商业银行股份有限公司",
        credit_code("91440000", 101),
        fields=(("institution_type", Organisation.InstitutionType.BANK), ("region", "广东省广州市")),
    ),
    OrganisationSpec(
        "bank_branch",
        Organisation.Kind.INSTITUTION,
        "粤海商业银行广州天河支行",
        credit_code("91440106", 102),
        parent="bank",
        fields=(("institution_type", Organisation.InstitutionType.BANK), ("region", "广东省广州市天河区")),
    ),
    OrganisationSpec(
        "other_bank",
        Organisation.Kind.INSTITUTION,
        "南粤农村商业银行股份有限公司",
        credit_code("91440600", 103),
        fields=(("institution_type", Organisation.InstitutionType.BANK), ("region", "广东省佛山市")),
    ),
    OrganisationSpec(
        "insurer",
        Organisation.Kind.INSTITUTION,
        "珠江人寿保险股份有限公司",
        credit_code("91440000", 104),
        fields=(("institution_type", Organisation.InstitutionType.INSURER), ("region", "广东省广州市")),
    ),
    OrganisationSpec(
        "court",
        Organisation.Kind.COURT,
        "广州市天河区人民法院",
        credit_code("11440106", 201),
        fields=(
            ("court_level", Organisation.CourtLevel.BASIC),
            ("court_code", "J0106"),
            ("region", "广东省广州市天河区"),
        ),
    ),
    OrganisationSpec(
        "regulator",
        Organisation.Kind.REGULATOR,
        "国家金融监督管理总局广东监管局",
        credit_code("11440000", 301),
        fields=(("region", "广东省广州市"),),
    ),
]


@dataclass(frozen=True)
class UserSpec:
    username: str
    role: str
    real_name: str
    organisation: str | None = None
    phone: str = ""
    id_number: str = ""
    email: str = ""
    flags: tuple[str, ...] = ()


USERS = [
    UserSpec(
        "demo_consumer",
        Role.CONSUMER,
        "张明",
        phone="+8613800001001",
        id_number=resident_id("440106", "19750312", 101),
        email="zhangming@example.com",
    ),
    UserSpec(
        "demo_consumer2",
        Role.CONSUMER,
        "李秀英",
        phone="+8613800001002",
        # Born in 1950: the elderly get the large-text mode and special care (在线诉讼规则 Art 2(4)).
        id_number=resident_id("440104", "19500820", 202),
        email="lixiuying@example.com",
        flags=("large_text",),
    ),
    UserSpec("demo_bank_agent", Role.INSTITUTION_AGENT, "陈志强", "bank", phone="+8613800002001"),
    UserSpec(
        "demo_bank_supervisor",
        Role.INSTITUTION_AGENT,
        "黄丽华",
        "bank",
        phone="+8613800002002",
        flags=("can_approve_extensions",),
    ),
    UserSpec("demo_branch_agent", Role.INSTITUTION_AGENT, "林晓东", "bank_branch", phone="+8613800002003"),
    UserSpec("demo_other_bank_agent", Role.INSTITUTION_AGENT, "梁永康", "other_bank", phone="+8613800002004"),
    UserSpec("demo_insurer_agent", Role.INSTITUTION_AGENT, "何静", "insurer", phone="+8613800002005"),
    UserSpec("demo_mediator", Role.MEDIATOR, "周文彬", "centre", phone="+8613800003001"),
    UserSpec("demo_mediator2", Role.MEDIATOR, "吴雅琴", "centre", phone="+8613800003002"),
    UserSpec("demo_case_manager", Role.CASE_MANAGER, "郑国平", "centre", phone="+8613800004001", flags=("is_staff",)),
    UserSpec("demo_court_clerk", Role.COURT_CLERK, "刘书记员", "court", phone="+8613800005001"),
    UserSpec("demo_regulator", Role.REGULATOR, "王处长", "regulator", phone="+8613800006001"),
    UserSpec("demo_admin", Role.ADMIN, "系统管理员", flags=("is_staff", "is_superuser")),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


@dataclass
class Cast:
    """The demo's organisations and people, by key and username."""

    organisations: dict[str, Organisation]
    users: dict[str, User]

    def user(self, username: str) -> User:
        return self.users[username]


def ensure_organisations() -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    for spec in ORGANISATIONS:
        organisation, _created = Organisation.objects.get_or_create(
            credit_code=spec.credit_code,
            defaults={
                "kind": spec.kind,
                "name": spec.name,
                "parent": found[spec.parent] if spec.parent else None,
                **dict(spec.fields),
            },
        )
        found[spec.key] = organisation
    return found


def ensure_users(organisations: dict[str, Organisation], password: str) -> dict[str, User]:
    """Create missing demo accounts; existing ones (and passwords changed since) are left alone."""
    found: dict[str, User] = {}
    for spec in USERS:
        person = User.objects.filter(username=spec.username).first()
        if person is None:
            person = User(
                username=spec.username,
                role=spec.role,
                real_name=spec.real_name,
                organisation=organisations[spec.organisation] if spec.organisation else None,
                phone=spec.phone,
                email=spec.email,
                **{flag: True for flag in spec.flags},
            )
            person.set_password(password)
            if spec.id_number:
                person.set_id_number(spec.id_number)
                person.identity_verified_at = timezone.now()
            if spec.phone:
                person.phone_verified_at = timezone.now()
            person.save()
            permissions.sync_user_groups(person)
        found[spec.username] = person
    return found


# --- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSpec:
    """One demo case: who complains about what, and the lifecycle steps that bring it to ``state``."""

    state: str
    consumer: str
    institution: str
    product_category: str
    issue_type: str
    amount: str
    description: str
    requested_outcome: str
    steps: tuple[str, ...]
    channel: str = IntakeChannel.WEB


# One lifecycle step, made through the service a real user's action would call.
Step = Callable[[Case, Cast, CaseSpec], Case]


def _agent_for(case: Case, cast: Cast) -> User:
    by_institution = {
        "bank": "demo_bank_agent",
        "bank_branch": "demo_branch_agent",
        "other_bank": "demo_other_bank_agent",
        "insurer": "demo_insurer_agent",
    }
    key = next(key for key, org in cast.organisations.items() if org.pk == case.institution_id)
    return cast.user(by_institution[key])


def _consumer_of(spec: CaseSpec, cast: Cast) -> User:
    return cast.user(spec.consumer)


def _accept(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.accept_case(case, actor=cast.user("demo_case_manager"))


def _decline(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.decline_case(
        case,
        actor=cast.user("demo_case_manager"),
        reason=NotAcceptedReason.IN_LITIGATION,
        note="投诉人已就同一纠纷向人民法院提起诉讼，法院已立案。",
    )


def _transfer(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.transfer_to_institution(case, actor=cast.user("demo_case_manager"))


def _answer_not_resolved(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    services.answer_complaint(
        case,
        agent=_agent_for(case, cast),
        outcome="not_resolved",
        text="经核查，相关费用已在合同中约定并已履行告知义务，维持原处理意见。",
    )
    return case


def _answer_resolved(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    services.answer_complaint(
        case,
        agent=_agent_for(case, cast),
        outcome="resolved",
        text="经核查，我行同意退还相关费用，款项将于5个工作日内退回原账户。",
    )
    return case


def _consumer_accepts_answer(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.accept_resolution(case, consumer=_consumer_of(spec, cast))


def _request_mediation(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.request_mediation(case, consumer=_consumer_of(spec, cast))


def _institution_consents(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.record_institution_consent(case, agent=_agent_for(case, cast), consent=True)


def _assign(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    services.assign_mediator(case, actor=cast.user("demo_case_manager"), mediator=cast.user("demo_mediator"))
    return case


def _mediator_accepts(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    mediator = cast.user("demo_mediator")
    demo_mediator_accepting.send(sender=_mediator_accepts, case=case, mediator=mediator)
    return services.mediator_accepts(case, mediator=mediator)


def _agreement(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.record_agreement_effective(case, actor=cast.user("demo_mediator"))


def _signed_agreement(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    """The agreement drafted, finalised and signed by everyone through the signing app, if installed."""
    replies = demo_agreement_signing.send(sender=load_demo, case=case, users=cast.users)
    if not any(handled for _receiver, handled in replies):
        return _agreement(case, cast, spec)
    case.refresh_from_db()
    return case


def _apply_confirmation(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    """A real application with its court package when the judicial app can make one (signed agreement)."""
    replies = demo_confirmation_applying.send(
        sender=load_demo, case=case, users=cast.users, court=cast.organisations["court"]
    )
    if any(handled for _receiver, handled in replies):
        case.refresh_from_db()
        return case
    return services.record_confirmation_applied(case, actor=cast.user("demo_case_manager"))


def _confirm(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    """The court accepts and confirms through the judicial app when the application is a real one."""
    replies = demo_confirmation_ruling.send(sender=load_demo, case=case, users=cast.users)
    if any(handled for _receiver, handled in replies):
        case.refresh_from_db()
        return case
    return services.record_confirmation_ruling(case, actor=cast.user("demo_court_clerk"), confirmed=True)


def _reject(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.record_confirmation_ruling(
        case,
        actor=cast.user("demo_court_clerk"),
        confirmed=False,
        reason="调解协议约定的违约金明显过高，不符合司法确认条件。",
    )


def _perform(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.start_performance(case, actor=cast.user("demo_case_manager"))


def _close(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    return services.close_case(case, actor=cast.user("demo_case_manager"), reason="调解协议已全部履行完毕。")


def _schedule_sitting(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    """The case's first sitting, scheduled by the sessions app (if installed) with its invitations."""
    demo_sitting_scheduling.send(sender=load_demo, case=case, mediator=cast.user("demo_mediator"))
    return case


def _terminate(case: Case, cast: Cast, spec: CaseSpec) -> Case:
    case = services.terminate_mediation(
        case,
        actor=cast.user("demo_mediator"),
        reason=TerminationReason.GAP_TOO_LARGE,
        note="双方对赔付金额分歧较大，经三次调解仍无法达成一致。",
    )
    demo_mediation_terminated.send(sender=load_demo, case=case, users=cast.users)
    return case


STEPS: dict[str, Step] = {
    "accept": _accept,
    "decline": _decline,
    "transfer": _transfer,
    "answer": _answer_not_resolved,
    "answer_resolved": _answer_resolved,
    "consumer_accepts_answer": _consumer_accepts_answer,
    "request_mediation": _request_mediation,
    "consent": _institution_consents,
    "assign": _assign,
    "mediator_accepts": _mediator_accepts,
    "agreement": _agreement,
    "signed_agreement": _signed_agreement,
    "apply_confirmation": _apply_confirmation,
    "confirm": _confirm,
    "reject": _reject,
    "perform": _perform,
    "close": _close,
    "terminate": _terminate,
    "schedule_sitting": _schedule_sitting,
}

_TO_MEDIATING = ("accept", "transfer", "answer", "request_mediation", "consent", "assign", "mediator_accepts")
_TO_CONFIRMATION = (*_TO_MEDIATING, "agreement", "apply_confirmation")

S = CaseState
P = ProductCategory

CASES = [
    CaseSpec(
        S.SUBMITTED,
        "demo_consumer",
        "bank",
        P.CREDIT_CARD,
        "interest_fees",
        "3280.00",
        "信用卡分期时客户经理称“零利息”，账单却按月收取手续费，合计3280元，事先未明确告知年化费率。",
        "退还分期手续费3280元。",
        (),
    ),
    CaseSpec(
        S.ACCEPTED,
        "demo_consumer2",
        "bank_branch",
        P.DEPOSIT,
        "missing_funds",
        "20000.00",
        "本人在天河支行柜台存入2万元定期存款，到期支取时被告知该笔存款已于半年前提前支取，本人从未办理。",
        "查明资金去向并返还本金及利息。",
        ("accept",),
        channel=IntakeChannel.VISIT,
    ),
    CaseSpec(
        S.NOT_ACCEPTED,
        "demo_consumer",
        "other_bank",
        P.PERSONAL_LOAN,
        "repayment",
        "56000.00",
        "申请个人经营贷款展期被拒，银行要求一次性还清剩余本金。",
        "同意贷款展期一年。",
        ("decline",),
    ),
    CaseSpec(
        S.TRANSFERRED,
        "demo_consumer2",
        "insurer",
        P.INSURANCE_CLAIM,
        "claim_delay",
        "18600.00",
        "住院手术后于两个月前提交理赔材料，保险公司至今未作出核定，多次催办无果。",
        "尽快核定并支付住院医疗保险金18600元。",
        ("accept", "transfer"),
        channel=IntakeChannel.HOTLINE,
    ),
    CaseSpec(
        S.ANSWERED,
        "demo_consumer",
        "bank_branch",
        P.MORTGAGE,
        "early_repayment",
        "9500.00",
        "提前偿还住房按揭贷款时被收取相当于三个月利息的违约金，合同中无此约定。",
        "退还提前还款违约金9500元。",
        ("accept", "transfer", "answer"),
    ),
    CaseSpec(
        S.MEDIATION_REQUESTED,
        "demo_consumer2",
        "bank",
        P.WEALTH_MANAGEMENT,
        "mis_selling",
        "150000.00",
        "七十岁时在网点被推荐购买R4风险等级理财产品，未做风险测评，产品亏损15万元。",
        "赔偿本金损失15万元。",
        ("accept", "transfer", "answer", "request_mediation"),
        channel=IntakeChannel.SERVICE_STATION,
    ),
    CaseSpec(
        S.CHOOSING_MEDIATOR,
        "demo_consumer",
        "insurer",
        P.INSURANCE_SALES,
        "surrender",
        "24000.00",
        "业务员将分红型终身寿险介绍为“存款”，犹豫期后才发现，退保仅能领回现金价值。",
        "全额退还已交保费24000元。",
        ("accept", "transfer", "answer", "request_mediation", "consent"),
    ),
    CaseSpec(
        S.AWAITING_MEDIATOR,
        "demo_consumer2",
        "other_bank",
        P.DEBT_COLLECTION,
        "third_party_contact",
        "0.00",
        "信用卡逾期后，委外催收人员多次致电本人亲友及单位同事，严重影响工作生活。",
        "停止骚扰第三人并书面道歉。",
        ("accept", "transfer", "answer", "request_mediation", "consent", "assign"),
        channel=IntakeChannel.LETTER,
    ),
    CaseSpec(
        S.MEDIATING,
        "demo_consumer",
        "bank",
        P.CREDIT_CARD,
        "unauthorised_transaction",
        "7800.00",
        "信用卡在境外被盗刷7800元，本人当时在广州并持有实体卡，银行以“密码交易”为由拒绝处理。",
        "调减盗刷款项7800元并消除逾期记录。",
        (*_TO_MEDIATING, "schedule_sitting"),
    ),
    CaseSpec(
        S.AGREEMENT_EFFECTIVE,
        "demo_consumer2",
        "bank_branch",
        P.FEES,
        "unauthorised_fee",
        "1260.00",
        "账户连续六年被扣取小额账户管理费和短信服务费，本人从未申请短信服务。",
        "退还全部费用1260元。",
        (*_TO_MEDIATING, "signed_agreement"),
    ),
    CaseSpec(
        S.CONFIRMATION_APPLIED,
        "demo_consumer",
        "other_bank",
        P.PAYMENT,
        "failed_transfer",
        "35000.00",
        "通过手机银行跨行转账35000元，显示成功但对方未收到，银行称款项已退回却查无记录。",
        "查明款项下落并赔偿利息损失。",
        (*_TO_MEDIATING, "signed_agreement", "apply_confirmation"),
    ),
    CaseSpec(
        S.CONFIRMED,
        "demo_consumer2",
        "insurer",
        P.INSURANCE_CLAIM,
        "claim_refused",
        "80000.00",
        "重大疾病确诊后申请理赔，保险公司以投保前既往症未告知为由拒赔，但投保时业务员未询问。",
        "按合同约定支付重大疾病保险金8万元。",
        (*_TO_MEDIATING, "signed_agreement", "apply_confirmation", "confirm"),
    ),
    CaseSpec(
        S.CONFIRMATION_REJECTED,
        "demo_consumer",
        "bank",
        P.PERSONAL_LOAN,
        "bundled_sales",
        "4200.00",
        "办理消费贷款时被要求同时购买意外险，否则不予放款，保费4200元从贷款中直接扣除。",
        "退还搭售保险保费4200元。",
        (*_TO_CONFIRMATION, "reject"),
    ),
    CaseSpec(
        S.PERFORMING,
        "demo_consumer2",
        "other_bank",
        P.CREDIT_CARD,
        "credit_record",
        "2300.00",
        "银行系统故障导致自动还款失败，本人征信被记录逾期，影响房贷审批。",
        "更正征信记录并赔偿损失2300元。",
        (*_TO_CONFIRMATION, "confirm", "perform"),
    ),
    CaseSpec(
        S.CLOSED,
        "demo_consumer",
        "insurer",
        P.INSURANCE_SALES,
        "renewal",
        "5600.00",
        "续期保费扣款日银行卡余额充足，保险公司却称扣款失败致保单失效，复效需重新体检。",
        "恢复保单效力并免除复效体检。",
        (*_TO_CONFIRMATION, "confirm", "perform", "close"),
    ),
    CaseSpec(
        S.CLOSED,
        "demo_consumer2",
        "bank",
        P.DEPOSIT,
        "account_restriction",
        "0.00",
        "银行卡被无故限制非柜面交易，退休金无法在手机上转出。",
        "解除账户限制。",
        ("accept", "transfer", "answer_resolved", "consumer_accepts_answer"),
    ),
    CaseSpec(
        S.TERMINATED,
        "demo_consumer",
        "bank_branch",
        P.WEALTH_MANAGEMENT,
        "redemption",
        "300000.00",
        "代销的私募产品到期无法兑付，银行称只是代销方不承担责任，但销售时以银行名义宣传。",
        "兑付本金30万元及约定收益。",
        (*_TO_MEDIATING, "terminate"),
    ),
]


def _ensure_case(spec: CaseSpec, cast: Cast) -> tuple[Case, bool]:
    description = f"{DEMO_MARKER}{spec.description}"
    consumer = _consumer_of(spec, cast)
    existing = Case.objects.filter(description=description, participants__user=consumer).first()
    if existing is not None:
        return existing, False
    case = services.submit_complaint(
        consumer=consumer,
        entered_by=consumer if spec.channel == IntakeChannel.WEB else cast.user("demo_case_manager"),
        channel=spec.channel,
        centre=cast.organisations["centre"],
        institution=cast.organisations[spec.institution],
        product_category=spec.product_category,
        issue_type=spec.issue_type,
        amount_in_dispute=Decimal(spec.amount),
        description=description,
        requested_outcome=spec.requested_outcome,
        consent_online_mediation=True,
        service_address=consumer.email,
    )
    for step in spec.steps:
        case = STEPS[step](case, cast, spec)
    case.refresh_from_db()
    if case.state != spec.state:
        raise RuntimeError(f"demo case {case.number} ended in {case.state}, expected {spec.state}")
    return case, True


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    cases_created: int
    cases_total: int


# Sent once the demo's organisations and people exist and before any case is driven, so apps
# further right (the mediator pool) can add their own demo data without the core importing them.
demo_people_ready = Signal()
# Sent before the demo mediator accepts a case, so the pool can record the demo's "no conflict"
# declaration that acceptance requires (在线调解规则 Art 13).
demo_mediator_accepting = Signal()
# Sent when a demo case reaches agreement the real way: a receiver (the signing app) drafts,
# finalises and signs the agreement, which makes it effective, and returns True.
demo_agreement_signing = Signal()
# Sent when a demo case applies for judicial confirmation and when the court confirms it: the
# judicial app answers with a real application, package and signed ruling, and returns True.
demo_confirmation_applying = Signal()
demo_confirmation_ruling = Signal()
# Sent when a demo case in mediation should have its first sitting: the sessions app schedules it
# (tomorrow morning, everyone on the case invited) so a newcomer sees the schedule and check-in.
demo_sitting_scheduling = Signal()
# Sent when a demo case's mediation has been terminated: the judicial app records the termination
# (the mediator's signed record, 在线调解规则 Art 21) and builds the referral package.
demo_mediation_terminated = Signal()


@transaction.atomic
def load_demo(password: str) -> DemoResult:
    """Create whatever part of the demo is missing; all of it or nothing."""
    organisations = ensure_organisations()
    users = ensure_users(organisations, password)
    cast = Cast(organisations=organisations, users=users)
    demo_people_ready.send(
        sender=load_demo,
        centre=organisations["centre"],
        mediators=[u for u in users.values() if u.role == Role.MEDIATOR],
        institutions=[o for o in organisations.values() if o.kind == Organisation.Kind.INSTITUTION],
    )
    created = sum(_ensure_case(spec, cast)[1] for spec in CASES)
    logins = [DemoLogin(spec.username, password, str(Role(spec.role).label)) for spec in USERS]
    total = Case.objects.filter(description__startswith=DEMO_MARKER).count()
    return DemoResult(logins=logins, cases_created=created, cases_total=total)
