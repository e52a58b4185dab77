"""Applications for judicial confirmation (司法确认) and what the court does with them."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mediation.models import TerminationReason


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
    # The court's own system confirmed receipt through the court API.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
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


# --- when mediation fails (在线调解规则 Art 21) --------------------------------------------------------


def termination_upload_path(instance: TerminationRecord | ReferralPackage, filename: str) -> str:
    return f"termination/{instance.case_id}/{filename}"


class TerminationRecord(models.Model):
    """调解终结记录: what a court needs to know when mediation ended without agreement.

    在线调解规则 Art 21: the basic facts of the mediation, why it failed, conduct of a party that
    increased the other's litigation costs, and whatever else the court should be told; the
    mediator records it (and the undisputed facts the parties confirmed, Art 22). The mediator
    signs it with their own certificate and the centre's seal follows. Once signed it never
    changes: ``judicial_link.termination`` refuses every edit (no corrections yet; see the README).
    """

    case = models.OneToOneField("mediation.Case", on_delete=models.CASCADE, related_name="termination_record")
    # Art 25: the ground the case was terminated on, copied when the record is started.
    reason = models.CharField(_("终止理由"), max_length=30, choices=TerminationReason.choices)
    basic_facts = models.TextField(_("纠纷基本情况"))
    undisputed_facts = models.TextField(_("无争议事实"), blank=True)
    failure_reasons = models.TextField(_("调解不成的原因"))
    cost_increasing_conduct = models.TextField(_("导致其他当事人诉讼成本增加的行为"), blank=True)
    notes_for_court = models.TextField(_("需要向人民法院提示的其他情况"), blank=True)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    # What the mediator saw and signed: the rendered draft, then the signed and sealed file.
    pdf = models.FileField(upload_to=termination_upload_path, max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    signed_pdf = models.FileField(upload_to=termination_upload_path, max_length=300, blank=True)
    signed_sha256 = models.CharField(max_length=64, blank=True)
    signed_sm3 = models.CharField(max_length=64, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    certificate_serial = models.CharField(max_length=80, blank=True)

    class Meta:
        verbose_name = _("调解终结记录")
        verbose_name_plural = _("调解终结记录")

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_reason_display()}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class ReferralPackage(models.Model):
    """诉讼材料包: the litigation-referral package of a terminated case, built once the record is signed."""

    case = models.OneToOneField("mediation.Case", on_delete=models.CASCADE, related_name="referral_package")
    record = models.ForeignKey(TerminationRecord, on_delete=models.RESTRICT, related_name="+")
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField(auto_now_add=True)
    package = models.FileField(upload_to=termination_upload_path, max_length=300)
    package_size = models.PositiveBigIntegerField()
    package_sha256 = models.CharField(max_length=64)
    package_sm3 = models.CharField(max_length=64)
    manifest_sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("诉讼材料包")
        verbose_name_plural = _("诉讼材料包")

    def __str__(self) -> str:
        return f"{self.case.number} referral"


def draft_upload_path(instance: ApplicationDocument, filename: str) -> str:
    return f"confirmation/{instance.draft.case_id}/draft-{instance.draft_id}/{filename}"


class ApplicationDraft(models.Model):
    """The joint application while the parties prepare it: venue facts, court, documents.

    ``facts``: {"consumer_domiciles": {"<user id>": {"address": "…", "region": "…"}},
    "subject_matter_region": "…"}; ``consumer_agents``: ids of consumers acting through an agent.
    """

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="application_drafts")
    court = models.ForeignKey(
        "mediation.Organisation",
        verbose_name=_("受理法院"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "court"},
    )
    facts = models.JSONField(default=dict, blank=True)
    consumer_agents = models.JSONField(default=list, blank=True)
    application = models.OneToOneField(
        ConfirmationApplication, on_delete=models.PROTECT, null=True, blank=True, related_name="draft"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(application__isnull=True),
                name="one_open_application_draft_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} draft"


class ApplicationDocument(models.Model):
    """One document of a draft: signed on the platform (the form, undertakings) or uploaded (scans)."""

    class Kind(models.TextChoices):
        SIGNED = "signed", _("平台签署")
        UPLOADED = "uploaded", _("上传")

    draft = models.ForeignKey(ApplicationDraft, on_delete=models.CASCADE, related_name="documents")
    code = models.CharField(max_length=60)  # judicial_link.preflight's document code
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to=draft_upload_path, max_length=300)
    extension = models.CharField(max_length=10, default="pdf")
    sha256 = models.CharField(max_length=64)
    # Who has signed (party keys "consumer:<id>" / "institution"), in order.
    signed_by = models.JSONField(default=list, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["draft", "code"], name="one_document_per_code_per_draft")]

    def __str__(self) -> str:
        return f"{self.draft_id}:{self.code}"


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


# --- the court API and webhooks ----------------------------------------------------------------------


class CourtApiToken(models.Model):
    """A bearer token for one court's system, acting as one named clerk of that court.

    Only the SHA-256 of the secret is kept; the secret is shown once when the token is made.
    """

    court = models.ForeignKey(
        "mediation.Organisation",
        on_delete=models.CASCADE,
        related_name="api_tokens",
        limit_choices_to={"kind": "court"},
    )
    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(_("用途"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("法院接口令牌")
        verbose_name_plural = _("法院接口令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… {self.court}"


class CourtWebhook(models.Model):
    """Where a court's system wants to hear about new applications; signed with the shared secret."""

    court = models.OneToOneField(
        "mediation.Organisation", on_delete=models.CASCADE, related_name="webhook", limit_choices_to={"kind": "court"}
    )
    url = models.URLField(_("回调地址"), max_length=500)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("法院回调地址")
        verbose_name_plural = _("法院回调地址")

    def __str__(self) -> str:
        return f"{self.court} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one court's webhook, retried with back-off until delivered or given up."""

    webhook = models.ForeignKey(CourtWebhook, on_delete=models.CASCADE, related_name="deliveries")
    application = models.ForeignKey(ConfirmationApplication, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class ApiDecision(models.Model):
    """A decision a court's system posted, kept so that the same request repeated is answered, not redone."""

    application = models.ForeignKey(ConfirmationApplication, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=20)  # acceptance, extension, ruling
    request_sha256 = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "action"], name="one_api_decision_per_action")]

    def __str__(self) -> str:
        return f"{self.application_id}:{self.action}"
