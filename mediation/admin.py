"""The admin holds reference data: organisations, accounts and each year's holiday schedule.

Cases and the ledger are shown read-only: a case changes only through ``mediation.services``
(which guard the lifecycle and write the ledger), and the ledger is append-only evidence.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mediation import clocks, permissions
from mediation.models import (
    ROLE_ORGANISATION_KIND,
    CalendarDay,
    CalendarYear,
    Case,
    LedgerEntry,
    Organisation,
    Role,
    User,
)


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = (
            "kind",
            "name",
            "parent",
            "credit_code",
            "institution_type",
            "court_level",
            "court_code",
            "region",
            "address",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        parent: Organisation | None = data.get("parent")
        if parent is not None:
            # Access follows the tree upwards (permissions.grant_institution_access); a loop or
            # a bank under a court would hand cases to the wrong people.
            if self.instance.pk and self.instance in parent.ancestors():
                self.add_error("parent", _("上级机构不能是本机构或其下级机构。"))
            if parent.kind != data.get("kind"):
                self.add_error("parent", _("上级机构须与本机构属于同一类型。"))
        return data


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ("name", "kind", "institution_type", "parent", "credit_code", "region")
    list_filter = ("kind", "institution_type", "court_level")
    search_fields = ("name", "credit_code")
    autocomplete_fields = ("parent",)
    list_select_related = ("parent",)


class UserRoleFormMixin(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        role, organisation = data.get("role"), data.get("organisation")
        kind = ROLE_ORGANISATION_KIND.get(Role(role)) if role in Role.values else None
        if kind is None and organisation is not None:
            self.add_error("organisation", _("该角色不属于任何组织。"))
        elif kind is not None and (organisation is None or organisation.kind != kind):
            self.add_error(
                "organisation",
                _("该角色须属于一个「%(kind)s」。") % {"kind": Organisation.Kind(kind).label},
            )
        return data


# The admin builds the final form classes for ``User`` (modelform_factory), so no Meta here.
class UserChangeForm(UserRoleFormMixin, DjangoUserChangeForm):
    """Django's change form, plus the role/organisation check."""


class UserCreationForm(UserRoleFormMixin, AdminUserCreationForm):
    """Django's creation form, plus the role/organisation check."""


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    # Only the masked ID number is ever shown; the encrypted value and its digest are not
    # form fields at all (在线调解规则 Art 29: identity data is confidential).
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("身份"),
            {
                "fields": (
                    "role",
                    "organisation",
                    "real_name",
                    "id_number_masked",
                    "identity_verified_at",
                    "phone",
                    "phone_verified_at",
                    "email",
                    "can_approve_extensions",
                    "large_text",
                )
            },
        ),
        (_("权限"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("重要日期"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "role",
                    "organisation",
                    "real_name",
                    "phone",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ("id_number_masked", "identity_verified_at", "phone_verified_at", "last_login", "date_joined")
    list_display = ("username", "real_name", "role", "organisation", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff", "can_approve_extensions")
    search_fields = ("username", "real_name", "email", "phone")
    list_select_related = ("organisation",)
    autocomplete_fields = ("organisation",)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # After the form's own groups were saved, or they would overwrite the organisation group.
        permissions.sync_user_groups(form.instance)


class CalendarDayFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        year = self.instance.year
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            day, is_workday = form.cleaned_data.get("date"), form.cleaned_data.get("is_workday")
            if day is None or year is None:
                continue
            if day.year != year:
                form.add_error("date", _("日期须属于 %(year)s 年。") % {"year": year})
            elif is_workday and day.weekday() < 5:
                form.add_error("is_workday", _("调休上班日只能是周六或周日。"))


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    formset = CalendarDayFormSet
    fields = ("date", "is_workday", "name")
    extra = 3


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    inlines = (CalendarDayInline,)
    list_display = ("year", "source", "loaded_by", "loaded_at")
    fields = ("year", "source", "loaded_by", "loaded_at")
    readonly_fields = ("loaded_by", "loaded_at")

    def save_model(self, request: HttpRequest, obj: CalendarYear, form: forms.ModelForm, change: bool) -> None:
        obj.loaded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self._recomputed(request, [form.instance.year], form.initial.get("year"))

    def delete_model(self, request: HttpRequest, obj: CalendarYear) -> None:
        super().delete_model(request, obj)
        self._recomputed(request, [obj.year])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CalendarYear]) -> None:
        years = list(queryset.values_list("year", flat=True))
        super().delete_queryset(request, queryset)
        self._recomputed(request, years)

    def _recomputed(self, request: HttpRequest, years: list[int], renamed_from: int | None = None) -> None:
        """Ledger the schedule and recompute open deadlines through it (and through a year renamed away)."""
        if renamed_from is not None and renamed_from not in years:
            years = [*years, renamed_from]
        actor = request.user if isinstance(request.user, User) else None
        moved = sum(clocks.record_calendar_change(year, actor=actor) for year in years)
        self.message_user(
            request,
            gettext("已按新的节假日安排重算 %(count)s 个未结期限。") % {"count": moved},
            messages.SUCCESS,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    # Mediation content is confidential (在线调解规则 Art 29): the admin lists cases, it does
    # not show what the parties said.
    list_display = ("number", "state", "institution", "centre", "created_at")
    list_filter = ("state",)
    search_fields = ("number",)
    fields = ("number", "state", "centre", "institution", "intake_channel", "created_at", "updated_at")
    readonly_fields = fields
    list_select_related = ("institution", "centre")
    date_hierarchy = "created_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_label", "action", "case")
    search_fields = ("action", "actor_label", "case__number")
    fields = ("seq", "at", "actor_label", "ip", "action", "case", "data", "prev_hash", "entry_hash", "entry_sm3")
    readonly_fields = fields
    list_select_related = ("case",)
