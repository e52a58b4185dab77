"""Applications for judicial confirmation (司法确认) and what the court does with them."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def package_upload_path(instance: ConfirmationApplication, filename: str) -> str:
    return f"confirmation/{instance.case_id}/{filename}"


class ConfirmationApplication(models.Model):
    """One joint application to one court (民事诉讼法 Arts 205, 206; 司法确认程序规定 Arts 2–5)."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("已提交法院")
        ACCEPTED = "accepted", _("法院已受理")
        REFUSED = "refused", _("法院不予受理")
        CONFIRMED = "confirmed", _("裁定确认调解协议有效")
        REJECTED = "rejected", _("裁定驳回申请")

    OPEN_STATES = (State.SUBMITTED, State.ACCEPTED)

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="confirmation_applications")
    court = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("受理法院"),
        on_delete=models.PROTECT,
        related_name="confirmation_applications",
        limit_choices_to={"kind": "court"},
    )
    venue_grounds = models.JSONField(default=list)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.SUBMITTED)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    # The court package as sent: its hashes are what the court checks it against.
    package = models.FileField(upload_to=package_upload_path, max_length=300)
    package_size = models.PositiveBigIntegerField()
    package_sha256 = models.CharField(max_length=64)
    package_sm3 = models.CharField(max_length=64)
    manifest_sha256 = models.CharField(max_length=64)
    # Checked automatically when the court first opens it (per file and per signature).
    integrity_ok = models.BooleanField(null=True)
    integrity_report = models.JSONField(default=dict, blank=True)
    integrity_checked_at = models.DateTimeField(null=True, blank=True)
    court_case_number = models.CharField(_("法院案号"), max_length=60, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(_("不予受理理由"), blank=True)
    ruling_extended_at = models.DateTimeField(null=True, blank=True)
    ruling_extension_note = models.TextField(_("延长审查期限的批准情况"), blank=True)
    ruled_at = models.DateTimeField(null=True, blank=True)
    ruling_reasons = models.TextField(_("裁定理由"), blank=True)
    ruling = models.FileField(upload_to=package_upload_path, max_length=300, blank=True)
    ruling_sha256 = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(state__in=["submitted", "accepted"]),
                name="one_open_confirmation_application_per_case",
            ),
            models.UniqueConstraint(
                fields=["court", "court_case_number"],
                condition=~models.Q(court_case_number=""),
                name="court_case_number_unique_per_court",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.number} → {self.court.name}"


# --- performance and enforcement (民事诉讼法 Arts 235, 250) ------------------------------------------


def performance_upload_path(instance: DueItem | EnforcementPackage, filename: str) -> str:
    return f"performance/{instance.case_id}/{filename}"


class DueItem(models.Model):
    """One dated obligation of the effective agreement (人民调解法 Art 29: how and by when performed).

    The side that performs reports it done with evidence; the other side confirms or disputes; a
    disputed item may be reported again. Overdue is derived from the due date; the sweep records
    when it alerted the centre (``overdue_alerted_at``), once per item.
    """

    class Kind(models.TextChoices):
        LUMP_SUM = "lump_sum", _("一次性付款")
        INSTALMENT = "instalment", _("分期付款")
        NON_MONETARY = "non_monetary", _("非金钱义务")

    class State(models.TextChoices):
        DUE = "due", _("待履行")
        REPORTED_PAID = "reported_paid", _("已报告履行，待确认")
        CONFIRMED = "confirmed", _("已确认履行")
        DISPUTED = "disputed", _("对履行有异议")

    class Side(models.TextChoices):
        INSTITUTION = "institution", _("金融机构")
        CONSUMER = "consumer", _("金融消费者")

    # Not yet confirmed performed: past the due date, these are a breach.
    OPEN_STATES = (State.DUE, State.DISPUTED)

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="due_items")
    agreement = models.ForeignKey("signing.Agreement", on_delete=models.CASCADE, related_name="due_items")
    sequence = models.PositiveIntegerField(_("序号"))
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    due_date = models.DateField(_("履行期限"))
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    payer = models.CharField(_("履行方"), max_length=20, choices=Side.choices)
    payer_name = models.CharField(_("履行方名称"), max_length=300)
    payee_name = models.CharField(_("权利方名称"), max_length=300)
    description = models.TextField(_("履行内容"))
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.DUE)
    created_at = models.DateTimeField(auto_now_add=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    # The performing side's report; replaced by a new report after a dispute (the ledger keeps each).
    report_count = models.PositiveIntegerField(default=0)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(_("履行日期"), null=True, blank=True)
    paid_amount = models.DecimalField(_("实际支付金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    report_note = models.TextField(_("履行说明"), blank=True)
    evidence = models.FileField(upload_to=performance_upload_path, max_length=300, blank=True)
    evidence_name = models.CharField(_("凭证文件名"), max_length=255, blank=True)
    evidence_content_type = models.CharField(max_length=100, blank=True)
    evidence_size = models.PositiveBigIntegerField(null=True, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    evidence_sm3 = models.CharField(max_length=64, blank=True)
    # The other side's answer to the latest report.
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    dispute_reason = models.TextField(_("异议理由"), blank=True)

    class Meta:
        ordering = ["case", "sequence"]
        constraints = [models.UniqueConstraint(fields=["agreement", "sequence"], name="due_item_sequence")]

    def __str__(self) -> str:
        return f"{self.case.number} #{self.sequence}"

    @property
    def payee(self) -> str:
        return self.Side.CONSUMER if self.payer == self.Side.INSTITUTION else self.Side.INSTITUTION

    def is_overdue(self, today: datetime.date) -> bool:
        return self.state in self.OPEN_STATES and self.due_date < today

    def is_breached(self, today: datetime.date) -> bool:
        """Not performed by its date, or its performance disputed."""
        return self.is_overdue(today) or self.state == self.State.DISPUTED


class EnforcementPackage(models.Model):
    """An application for enforcement (申请执行) with its package, for the court that confirmed.

    民事诉讼法 Art 235: the court that ruled executes its own ruling; Art 250: within two years of the
    last day of the performance period (``limit_date`` as computed when it was built).
    """

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="enforcement_packages")
    application = models.ForeignKey(ConfirmationApplication, on_delete=models.PROTECT, related_name="+")
    court = models.ForeignKey("mediation.Organisation", on_delete=models.PROTECT, related_name="+")
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField(auto_now_add=True)
    last_performance_day = models.DateField()
    limit_date = models.DateField(_("申请执行期限"))
    package = models.FileField(upload_to=performance_upload_path, max_length=300)
    package_size = models.PositiveBigIntegerField()
    package_sha256 = models.CharField(max_length=64)
    package_sm3 = models.CharField(max_length=64)
    manifest_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-built_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.case.number} enforcement {self.pk}"
