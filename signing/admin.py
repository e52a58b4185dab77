"""Certificates issued by the built-in CA: listed read-only, revocable (key compromise, a seal misused).

Agreements are not in the admin: their content is confidential (在线调解规则 Art 29) and they change
only through the signing services, which keep the evidence.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mediation.admin import ReadOnlyAdmin
from signing import pki
from signing.models import IssuedCertificate


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(ReadOnlyAdmin):
    list_display = ("serial", "kind", "subject", "organisation", "user", "not_after", "revoked_at")
    list_filter = ("kind", "revoked_at")
    search_fields = ("serial", "subject")
    fields = (
        "serial",
        "kind",
        "subject",
        "organisation",
        "user",
        "not_before",
        "not_after",
        "key_destroyed_at",
        "revoked_at",
        "revocation_reason",
    )
    actions = ["revoke_key_compromise", "revoke_superseded"]

    def _revoke(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate], reason: str) -> None:
        authority = pki.authority()
        count = 0
        for certificate in queryset.filter(revoked_at__isnull=True):
            authority.revoke(certificate, reason, actor=request.user)  # type: ignore[arg-type]
            count += 1
        self.message_user(
            request, gettext("已吊销 %(count)d 张证书，已列入证书吊销列表。") % {"count": count}, messages.SUCCESS
        )

    @admin.action(description=_("吊销所选证书（密钥泄露）"))
    def revoke_key_compromise(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> None:
        self._revoke(request, queryset, "keyCompromise")

    @admin.action(description=_("吊销所选证书（已被替换）"))
    def revoke_superseded(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> None:
        self._revoke(request, queryset, "superseded")
