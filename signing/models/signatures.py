"""Signature slots, the chain of PDF revisions, the signing evidence and one-time codes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SignatureSlot(models.Model):
    """One pre-created signature field (在线调解规则 Art 19: parties, mediators, then the centre seal)."""

    class Role(models.TextChoices):
        CONSUMER = "consumer", _("金融消费者")
        INSTITUTION = "institution", _("金融机构")
        MEDIATOR = "mediator", _("调解员")
        CENTRE = "centre", _("调解组织")

    class Status(models.TextChoices):
        PENDING = "pending", _("待签署")
        SIGNED = "signed", _("已签署")
        DECLINED = "declined", _("拒绝签署")

    # Stages: every slot of a stage must be signed before any slot of the next stage.
    STAGE_PARTIES = 1
    STAGE_MEDIATORS = 2
    STAGE_SEAL = 3

    agreement = models.ForeignKey("signing.Agreement", on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()
    stage = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=20, choices=Role.choices)
    field_name = models.CharField(max_length=40)
    # A person signs consumer and mediator slots; any authorised person of the organisation signs
    # (with the organisation's seal certificate) the institution and centre slots.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="signature_slots"
    )
    organisation = models.ForeignKey(
        "mediation.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    label = models.CharField(_("签署方"), max_length=200)
    page = models.PositiveSmallIntegerField(default=0)
    box = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agreement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "position"], name="signature_slot_position"),
            models.UniqueConstraint(fields=["agreement", "field_name"], name="signature_slot_field"),
        ]

    def __str__(self) -> str:
        return f"{self.field_name} ({self.get_status_display()})"


def revision_upload_path(instance: PdfRevision, filename: str) -> str:
    return f"agreements/{instance.agreement.case_id}/{filename}"


class PdfRevision(models.Model):
    """Every state of the agreement PDF: number 0 has the empty fields, each signature adds one."""

    agreement = models.ForeignKey("signing.Agreement", on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    slot = models.OneToOneField(SignatureSlot, on_delete=models.PROTECT, null=True, blank=True, related_name="revision")
    file = models.FileField(upload_to=revision_upload_path, max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    sm3 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agreement", "number"]
        constraints = [models.UniqueConstraint(fields=["agreement", "number"], name="pdf_revision_number")]

    def __str__(self) -> str:
        return f"revision {self.number}"


class SigningEvent(models.Model):
    """The evidence kept for the signing report (签署报告)."""

    class Kind(models.TextChoices):
        FINALISED = "finalised", _("定稿")
        RENDERED = "rendered", _("生成签署文本")
        CODE_SENT = "code_sent", _("发送验证码")
        CODE_FAILED = "code_failed", _("验证码错误")
        SIGNED = "signed", _("签署")
        DECLINED = "declined", _("拒绝签署")
        EFFECTIVE = "effective", _("协议生效")
        ARCHIVE_TIMESTAMP = "archive_timestamp", _("续加存档时间戳")

    agreement = models.ForeignKey("signing.Agreement", on_delete=models.CASCADE, related_name="events")
    slot = models.ForeignKey(SignatureSlot, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
