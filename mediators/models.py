"""The expert pool (专家库): mediator profiles, neutrality declarations, choices, evaluations."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mediation.classification import ProductCategory


class Language(models.TextChoices):
    MANDARIN = "mandarin", _("普通话")
    CANTONESE = "cantonese", _("粤语")
    MINNAN = "minnan", _("闽南语")
    HAKKA = "hakka", _("客家话")
    WU = "wu", _("吴语")
    ENGLISH = "english", _("英语")


class MediatorProfile(models.Model):
    class Employment(models.TextChoices):
        FULL_TIME = "full_time", _("专职")
        PART_TIME = "part_time", _("兼职")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在册")
        SUSPENDED = "suspended", _("暂停")
        RETIRED = "retired", _("退出")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mediator_profile")
    centre = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("所属调解组织"),
        on_delete=models.PROTECT,
        related_name="mediators",
        limit_choices_to={"kind": "centre"},
    )
    display_name = models.CharField(_("公示姓名"), max_length=50)
    title = models.CharField(
        _("职业背景"), max_length=100, blank=True, help_text=_("例如：退休法官、执业律师、金融从业者")
    )
    employment = models.CharField(_("专兼职"), max_length=20, choices=Employment.choices)
    region = models.CharField(_("所在地区"), max_length=100)
    max_caseload = models.PositiveSmallIntegerField(_("同时承办案件上限"), default=10)
    charges_fees = models.BooleanField(_("是否收费"), default=False)
    fee_note = models.CharField(_("收费说明"), max_length=300, blank=True)
    biography = models.TextField(_("个人简介"), blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("调解员")
        verbose_name_plural = _("调解员名册")
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name


class Expertise(models.Model):
    """A product category the mediator handles; an empty issue type means the whole category."""

    profile = models.ForeignKey(MediatorProfile, on_delete=models.CASCADE, related_name="expertise")
    product_category = models.CharField(_("产品类别"), max_length=30, choices=ProductCategory.choices)
    issue_type = models.CharField(_("问题类型"), max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "product_category", "issue_type"], name="unique_expertise")
        ]
        indexes = [models.Index(fields=["product_category", "issue_type"])]

    def __str__(self) -> str:
        return f"{self.product_category}.{self.issue_type or '*'}"


class MediatorLanguage(models.Model):
    profile = models.ForeignKey(MediatorProfile, on_delete=models.CASCADE, related_name="languages")
    language = models.CharField(_("语言"), max_length=20, choices=Language.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "language"], name="unique_mediator_language")]

    def __str__(self) -> str:
        return self.language


class Qualification(models.Model):
    profile = models.ForeignKey(MediatorProfile, on_delete=models.CASCADE, related_name="qualifications")
    name = models.CharField(_("资格或证书"), max_length=100)
    number = models.CharField(_("证书编号"), max_length=50, blank=True)
    issued_by = models.CharField(_("发证机关"), max_length=100, blank=True)
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)

    class Meta:
        ordering = ["expires_on", "id"]

    def __str__(self) -> str:
        return self.name

    def is_valid_on(self, day: object | None = None) -> bool:
        today = day or timezone.localdate()
        return self.expires_on is None or self.expires_on >= today  # type: ignore[operator]


class Unavailability(models.Model):
    """Dates the mediator cannot take sessions (maintained by the mediator)."""

    profile = models.ForeignKey(MediatorProfile, on_delete=models.CASCADE, related_name="unavailable")
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    reason = models.CharField(_("原因"), max_length=200, blank=True)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="unavailability_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start_date}–{self.end_date}"


class DeclaredRelationship(models.Model):
    """A relationship that may compromise neutrality (在线调解规则 Art 13; 特邀调解规定 Art 15)."""

    class Kind(models.TextChoices):
        PAST_EMPLOYMENT = "past_employment", _("曾在该机构任职")
        CLOSE_RELATIVE = "close_relative", _("近亲属在该机构任职或为当事人")
        FINANCIAL_INTEREST = "financial_interest", _("持有该机构股份或其他经济利益")
        OTHER = "other", _("其他可能影响公正的关系")

    profile = models.ForeignKey(MediatorProfile, on_delete=models.CASCADE, related_name="relationships")
    kind = models.CharField(_("关系类型"), max_length=30, choices=Kind.choices)
    organisation = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("相关机构"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    person_name = models.CharField(_("相关人员"), max_length=50, blank=True)
    start_date = models.DateField(_("开始日期"), null=True, blank=True)
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class Disclosure(models.Model):
    """On assignment the mediator confirms no conflict or discloses one (在线调解规则 Art 13)."""

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="disclosures")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    has_conflict = models.BooleanField(_("存在利益冲突"))
    text = models.TextField(_("披露内容"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.mediator_id} {'conflict' if self.has_conflict else 'none'}"


class DisclosureResponse(models.Model):
    """Each party agrees to continue or asks for a change after a disclosure (Art 14)."""

    class Decision(models.TextChoices):
        CONTINUE = "continue", _("同意该调解员继续调解")
        CHANGE = "change", _("申请更换调解员")

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="responses")
    party = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["disclosure", "party"], name="one_response_per_party")]

    def __str__(self) -> str:
        return f"{self.disclosure_id}/{self.party_id} {self.decision}"


class ChangeRequest(models.Model):
    """A party asks the centre to replace a mediator, with a reason, before agreement (Art 14)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待决定")
        GRANTED = "granted", _("已更换")
        REFUSED = "refused", _("不予更换")

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="mediator_change_requests")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("理由"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("决定说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.mediator_id} {self.status}"


class PartyChoice(models.Model):
    """A party's pick from the roster; the same pick by every party is a joint choice (Art 10)."""

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="mediator_choices")
    party = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "party"], name="one_choice_per_party")]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.party_id} → {self.mediator_id}"


class Rating(models.Model):
    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="mediator_ratings")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings_received")
    party = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("评分"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("评价"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "mediator", "party"], name="one_rating_per_party"),
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_between_1_and_5"),
        ]

    def __str__(self) -> str:
        return f"{self.mediator_id}: {self.score}"


class MediatorComplaint(models.Model):
    """A complaint about a mediator's conduct (在线调解规则 Art 29 grounds), handled by the centre."""

    class Ground(models.TextChoices):
        COERCION = "coercion", _("强迫调解")
        REPEATED_REFUSALS = "repeated_refusals", _("无正当理由多次拒绝接受委派")
        FAVOURS = "favours", _("接受当事人请托或财物")
        LEAKING = "leaking", _("泄露调解过程或当事人信息")
        OTHER = "other", _("其他违反调解员职业道德的行为")

    class Status(models.TextChoices):
        OPEN = "open", _("处理中")
        UPHELD = "upheld", _("投诉成立")
        DISMISSED = "dismissed", _("投诉不成立")

    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="complaints_received")
    case = models.ForeignKey(
        "mediation.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="mediator_complaints"
    )
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ground = models.CharField(_("投诉事由"), max_length=30, choices=Ground.choices)
    text = models.TextField(_("投诉内容"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(_("处理结果"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mediator_id} {self.ground} {self.status}"
