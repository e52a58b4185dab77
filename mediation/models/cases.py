from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from mediation.classification import ProductCategory


class CaseState(models.TextChoices):
    SUBMITTED = "submitted", _("已登记")
    ACCEPTED = "accepted", _("已受理")
    NOT_ACCEPTED = "not_accepted", _("不予受理")
    TRANSFERRED = "transferred", _("已转办机构")
    ANSWERED = "answered", _("机构已答复")
    MEDIATION_REQUESTED = "mediation_requested", _("申请调解")
    CHOOSING_MEDIATOR = "choosing_mediator", _("选定调解员")
    AWAITING_MEDIATOR = "awaiting_mediator", _("待调解员接受")
    MEDIATING = "mediating", _("调解中")
    AGREEMENT_EFFECTIVE = "agreement_effective", _("调解协议已生效")
    CONFIRMATION_APPLIED = "confirmation_applied", _("已申请司法确认")
    CONFIRMED = "confirmed", _("已司法确认")
    CONFIRMATION_REJECTED = "confirmation_rejected", _("司法确认被驳回")
    PERFORMING = "performing", _("履行中")
    CLOSED = "closed", _("已结案")
    TERMINATED = "terminated", _("调解终止")


FINAL_STATES = {CaseState.NOT_ACCEPTED, CaseState.CLOSED, CaseState.TERMINATED}


class TerminationReason(models.TextChoices):
    """在线调解规则 Art 25: the grounds on which mediation ends without agreement."""

    WITHDRAWN = "withdrawn", _("当事人撤回调解申请")
    UNREACHABLE = "unreachable", _("无法联系当事人")
    REFUSED = "refused", _("当事人拒绝调解")
    GAP_TOO_LARGE = "gap_too_large", _("当事人分歧较大难以达成协议")
    TERM_EXPIRED = "term_expired", _("调解期限届满未达成协议")
    REFUSED_TO_SIGN = "refused_to_sign", _("当事人拒绝签署调解协议")
    OTHER = "other", _("其他导致调解无法进行的情形")


class NotAcceptedReason(models.TextChoices):
    OUT_OF_SCOPE = "out_of_scope", _("不属于金融消费纠纷受理范围")
    IN_LITIGATION = "in_litigation", _("已进入诉讼或仲裁程序")
    ALREADY_HANDLED = "already_handled", _("同一事项已处理完毕且无新情况")
    INSUFFICIENT = "insufficient", _("投诉信息不完整且无法补正")
    NO_CONSENT = "no_consent", _("当事人不同意调解")
    OTHER = "other", _("其他")


class IntakeChannel(models.TextChoices):
    WEB = "web", _("网上提交")
    HOTLINE = "hotline", _("热线电话")
    LETTER = "letter", _("来信")
    VISIT = "visit", _("来访")
    SERVICE_STATION = "service_station", _("消保服务站")


class Case(models.Model):
    number = models.CharField(_("案件编号"), max_length=32, unique=True)
    state = models.CharField(
        _("状态"), max_length=30, choices=CaseState.choices, default=CaseState.SUBMITTED, db_index=True
    )
    centre = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("调解中心"),
        on_delete=models.PROTECT,
        related_name="centre_cases",
        limit_choices_to={"kind": "centre"},
    )
    institution = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("被投诉机构"),
        on_delete=models.PROTECT,
        related_name="complaints",
        limit_choices_to={"kind": "institution"},
    )
    delegating_court = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("委派法院"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="delegated_cases",
        limit_choices_to={"kind": "court"},
    )
    product_category = models.CharField(_("产品类别"), max_length=30, choices=ProductCategory.choices)
    issue_type = models.CharField(_("问题类型"), max_length=40)
    amount_in_dispute = models.DecimalField(
        _("争议金额（元）"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    description = models.TextField(_("事实与理由"))
    requested_outcome = models.TextField(_("诉求"))
    intake_channel = models.CharField(_("登记渠道"), max_length=20, choices=IntakeChannel.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        on_delete=models.PROTECT,
        related_name="entered_cases",
    )
    consent_online_mediation = models.BooleanField(_("同意在线调解"), default=False)
    consented_at = models.DateTimeField(_("同意时间"), null=True, blank=True)
    institution_consented_at = models.DateTimeField(_("机构同意调解时间"), null=True, blank=True)
    service_address = models.EmailField(_("电子送达地址"))
    service_address_confirmed_at = models.DateTimeField(_("送达地址确认时间"), null=True, blank=True)
    is_repeat = models.BooleanField(_("重复投诉"), default=False)
    escalated = models.BooleanField(_("提级处理"), default=False)
    not_accepted_reason = models.CharField(
        _("不予受理理由"), max_length=30, choices=NotAcceptedReason.choices, blank=True
    )
    termination_reason = models.CharField(_("终止理由"), max_length=30, choices=TerminationReason.choices, blank=True)
    state_note = models.TextField(_("状态说明"), blank=True)
    agreement_effective_at = models.DateTimeField(_("调解协议生效时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("answer_case", _("以被投诉机构身份答复")),
            ("manage_case", _("以调解中心身份管理")),
            ("mediate_case", _("以调解员身份调解")),
            ("take_part_case", _("以当事人身份参与")),
        ]
        indexes = [
            models.Index(fields=["institution", "product_category", "created_at"]),
            models.Index(fields=["centre", "state", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseParticipant(models.Model):
    """Who is on a case, in which capacity. Object permissions follow these rows."""

    class Capacity(models.TextChoices):
        CONSUMER = "consumer", _("投诉人")
        INSTITUTION_AGENT = "institution_agent", _("机构经办人")
        MEDIATOR = "mediator", _("调解员")
        LEAD_MEDIATOR = "lead_mediator", _("主调解员")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_participations")
    capacity = models.CharField(max_length=30, choices=Capacity.choices)
    joined_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "user", "capacity"],
                condition=models.Q(removed_at__isnull=True),
                name="one_active_participation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.user_id} {self.capacity}"


class CaseTransition(models.Model):
    """Append-only history of the case state; nothing else writes ``Case.state``."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=30, choices=CaseState.choices, blank=True)
    to_state = models.CharField(max_length=30, choices=CaseState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_state} → {self.to_state}"


def evidence_upload_path(instance: Evidence, filename: str) -> str:
    # The stored name never uses the uploader's file name: it cannot traverse or collide.
    return f"evidence/{instance.case_id}/{instance.sha256[:2]}/{instance.sha256}"


class Evidence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to=evidence_upload_path, max_length=300)
    original_name = models.CharField(_("文件名"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    sm3 = models.CharField(max_length=64, blank=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("证据材料")
        verbose_name_plural = _("证据材料")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class InstitutionAnswer(models.Model):
    class Outcome(models.TextChoices):
        RESOLVED = "resolved", _("已解决")
        NOT_RESOLVED = "not_resolved", _("未解决（维持原处理意见）")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="answers")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("处理结果"), max_length=20, choices=Outcome.choices)
    text = models.TextField(_("答复内容"))
    attachments = models.ManyToManyField(Evidence, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.outcome}"


class ExtensionRequest(models.Model):
    """银行业保险业消费投诉处理管理办法: 15 days, +15 for complex cases, +30 with approval."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("未批准")

    deadline = models.ForeignKey("mediation.Deadline", on_delete=models.CASCADE, related_name="extension_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    days = models.PositiveSmallIntegerField()
    reason = models.TextField(_("延期理由"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"+{self.days} {self.status}"
