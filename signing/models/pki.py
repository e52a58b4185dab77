"""Certificates issued by the built-in CA (the root, issuing CA and TSA keys live under ``var/pki``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IssuedCertificate(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event", _("事件证书")
        SEAL = "seal", _("机构印章证书")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    serial = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=400)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="certificates"
    )
    organisation = models.ForeignKey(
        "mediation.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="certificates"
    )
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    certificate_der = models.BinaryField()
    # PKCS#8, encrypted with a key kept under var/keys; emptied once an event key has been used.
    encrypted_key = models.BinaryField(blank=True, default=b"")
    key_destroyed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.serial}"
