"""Court API tokens and webhooks in the admin (tokens are created with ``manage.py court_api_token``)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from judicial_link.models import CourtApiToken, CourtWebhook, WebhookDelivery


@admin.register(CourtApiToken)
class CourtApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["prefix", "court", "clerk", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "secret_sha256", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the secret is shown once by the command

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[CourtApiToken]) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(CourtWebhook)
class CourtWebhookAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["court", "url", "active", "created_at"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "pk",
        "event",
        "webhook",
        "attempts",
        "last_status",
        "delivered_at",
        "given_up_at",
        "next_attempt_at",
    ]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
