"""Applications for judicial confirmation (司法确认) and what the court does with them."""

from __future__ import annotations

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
