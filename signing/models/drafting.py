"""The mediation agreement (调解协议书) of a case and its versioned drafts (人民调解法 Art 29)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DisputeTemplate(models.TextChoices):
    """Agreement templates per dispute type; each names the clauses it proposes by default."""

    CREDIT_CARD = "credit_card", _("信用卡费用与利息争议")
    LOAN = "loan", _("贷款与还款争议")
    INSURANCE_CLAIM = "insurance_claim", _("保险理赔争议")
    WEALTH_MIS_SELLING = "wealth_mis_selling", _("理财产品销售适当性争议")
    PAYMENT_SERVICE = "payment_service", _("支付结算服务争议")
    GENERAL = "general", _("其他金融消费争议")


class Agreement(models.Model):
    class State(models.TextChoices):
        DRAFTING = "drafting", _("起草中")
        SIGNING = "signing", _("签署中")
        EFFECTIVE = "effective", _("已生效")
        VOID = "void", _("已作废")

    case = models.OneToOneField("mediation.Case", on_delete=models.CASCADE, related_name="agreement")
    template = models.CharField(_("协议模板"), max_length=30, choices=DisputeTemplate.choices)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.DRAFTING)
    # Frozen by the mediator's finalisation: the version, the SHA-256 of its canonical content.
    final_version = models.OneToOneField(
        "signing.AgreementVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    final_content_hash = models.CharField(max_length=64, blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Short code printed under the QR code; the public verification page looks the agreement up by it.
    short_code = models.CharField(_("验证码"), max_length=12, unique=True)
    # The rendered, unsigned PDF of the final version (before the signature fields were added).
    rendered_sha256 = models.CharField(max_length=64, blank=True)
    rendered_sm3 = models.CharField(max_length=64, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(_("生效时间"), null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(_("作废原因"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("调解协议")
        verbose_name_plural = _("调解协议")

    def __str__(self) -> str:
        return f"{self.case.number} agreement"

    @property
    def is_frozen(self) -> bool:
        return self.final_version_id is not None


class AgreementVersion(models.Model):
    """One immutable draft. ``terms`` holds the structured clauses (see ``signing.terms``)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    facts = models.TextField(_("主要事实"))
    dispute = models.TextField(_("争议事项"))
    terms = models.JSONField(_("协议条款"), default=dict)
    change_note = models.CharField(_("修改说明"), max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agreement", "number"]
        constraints = [models.UniqueConstraint(fields=["agreement", "number"], name="agreement_version_number")]

    def __str__(self) -> str:
        return f"v{self.number}"


class VersionComment(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("意见"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"comment on {self.version}"
