"""The admin for the pool: mediator profiles with everything attached, ratings and complaints read-only.

Centre staff normally use the pool pages (``mediators:profile_list``); the admin is the
administrator's fallback. A profile saved here still leaves a ledger entry, so the record of who
changed the roster has no gap. Ratings and complaints change only through the pool's services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from mediation import ledger
from mediators.models import (
    DeclaredRelationship,
    Expertise,
    MediatorComplaint,
    MediatorLanguage,
    MediatorProfile,
    Qualification,
    Rating,
    Unavailability,
)


class ExpertiseInline(admin.TabularInline):
    model = Expertise
    extra = 0


class MediatorLanguageInline(admin.TabularInline):
    model = MediatorLanguage
    extra = 0


class QualificationInline(admin.TabularInline):
    model = Qualification
    extra = 0


class DeclaredRelationshipInline(admin.StackedInline):
    model = DeclaredRelationship
    extra = 0
    autocomplete_fields = ("organisation",)


class UnavailabilityInline(admin.TabularInline):
    model = Unavailability
    extra = 0


@admin.register(MediatorProfile)
class MediatorProfileAdmin(admin.ModelAdmin):
    list_display = ("display_name", "centre", "status", "employment", "region", "charges_fees")
    list_filter = ("status", "employment", "charges_fees", "centre")
    search_fields = ("display_name", "user__username", "region")
    list_select_related = ("centre",)
    autocomplete_fields = ("user", "centre")
    inlines = (
        ExpertiseInline,
        MediatorLanguageInline,
        QualificationInline,
        DeclaredRelationshipInline,
        UnavailabilityInline,
    )

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        changed_inlines = sorted({formset.model._meta.model_name for formset in formsets if formset.has_changed()})
        if form.has_changed() or changed_inlines or not change:
            ledger.record(
                "mediators.profile.updated" if change else "mediators.profile.created",
                actor=request.user,
                ip=ledger.client_ip(request),
                data={
                    "profile": form.instance.pk,
                    "via": "admin",
                    "fields": sorted(form.changed_data),
                    "inlines": changed_inlines,
                },
            )


class ReadOnlyPoolAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rating)
class RatingAdmin(ReadOnlyPoolAdmin):
    list_display = ("mediator", "case", "score", "created_at")
    list_filter = ("score",)
    search_fields = ("mediator__username", "mediator__real_name", "case__number")
    list_select_related = ("mediator", "case")
    fields = ("case", "mediator", "party", "score", "comment", "created_at")
    readonly_fields = fields


@admin.register(MediatorComplaint)
class MediatorComplaintAdmin(ReadOnlyPoolAdmin):
    # The complaint text may quote the mediation (confidential, 在线调解规则 Art 29); the centre reads
    # it on its complaint pages, where access is checked, not in the admin.
    list_display = ("mediator", "ground", "status", "case", "created_at", "handled_at")
    list_filter = ("ground", "status")
    search_fields = ("mediator__username", "mediator__real_name", "case__number")
    list_select_related = ("mediator", "case")
    fields = ("mediator", "case", "filed_by", "ground", "status", "handled_by", "created_at", "handled_at")
    readonly_fields = fields
