"""Pool pages: the centre's mediator profiles (staff), a mediator's own profile and availability,
and the public roster (no login).

Every profile-scoped view fetches its object through a getter in ``mediators.roster`` on its first
line — 404 for anyone who may not reach it, whatever the method — and only then checks the method.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mediation import ledger
from mediation.services import CaseError
from mediation.views.accounts import AuthenticatedRequest
from mediators import roster
from mediators.forms_roster import (
    NewProfileForm,
    ProfileFilterForm,
    ProfileForm,
    QualificationForm,
    RelationshipForm,
    RosterFilterForm,
    StatusForm,
    UnavailabilityForm,
)
from mediators.models import (
    DeclaredRelationship,
    Expertise,
    MediatorLanguage,
    MediatorProfile,
    Qualification,
    Unavailability,
)

PROFILES_PER_PAGE = 50
ROSTER_PER_PAGE = 20


def _refuse_method(request: HttpRequest, *allowed: str) -> HttpResponse | None:
    """Called after the getter, so a visitor who may not see the object gets 404 whatever the method."""
    return None if request.method in allowed else HttpResponseNotAllowed(list(allowed))


def _render_form(
    request: HttpRequest, form: BaseForm, *, title: str, submit: str, profile: MediatorProfile | None
) -> HttpResponse:
    """One page for every pool form; a bound form with errors answers 400 (nothing was saved)."""
    return render(
        request,
        "mediators/roster/form.html",
        {"form": form, "title": title, "submit": submit, "profile": profile},
        status=400 if form.is_bound and form.errors else 200,
    )


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- staff: the centre's profiles ------------------------------------------------------------


@login_required
def profile_list(request: AuthenticatedRequest) -> HttpResponse:
    centre = roster.centre_of_case_manager(request.user)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    form = ProfileFilterForm(request.GET or None)
    profiles = (
        MediatorProfile.objects.filter(centre=centre)
        .select_related("user")
        .prefetch_related(
            Prefetch("languages", queryset=MediatorLanguage.objects.order_by("id")),
            Prefetch("qualifications", queryset=Qualification.objects.all()),
        )
    )
    if form.is_valid():
        if form.cleaned_data["q"]:
            profiles = profiles.filter(display_name__icontains=form.cleaned_data["q"].strip())
        if form.cleaned_data["status"]:
            profiles = profiles.filter(status=form.cleaned_data["status"])
    page = Paginator(profiles, PROFILES_PER_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    rows = [(profile, roster.has_valid_certificate(profile, today)) for profile in page.object_list]
    return render(
        request,
        "mediators/roster/profile_list.html",
        {"form": form, "page": page, "rows": rows, "query": _query_without_page(request)},
    )


@login_required
def profile_create(request: AuthenticatedRequest) -> HttpResponse:
    centre = roster.centre_of_case_manager(request.user)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = NewProfileForm(request.POST or None, centre=centre)
    if request.method == "POST" and form.is_valid():
        try:
            profile = roster.create_profile(
                centre,
                actor=request.user,
                fields=form.profile_fields(),
                user=form.cleaned_data.get("existing_user"),
                new_account=form.new_account(),
                languages=form.cleaned_data["languages"],
                expertise=form.expertise_pairs(),
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已建立调解员 %(name)s 的档案。") % {"name": profile.display_name})
            return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(
        request,
        form,
        title=_("新建调解员档案"),
        submit=_("建立档案"),
        profile=None,
    )


@login_required
def profile_detail(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    """Staff see and manage the whole profile; the mediator sees their own, read-only."""
    profile = roster.get_profile_for_viewer(request.user, mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    can_manage = request.user.pk != profile.user_id
    today = timezone.localdate()
    qualifications = list(profile.qualifications.all())
    return render(
        request,
        "mediators/roster/profile_detail.html",
        {
            "profile": profile,
            "can_manage": can_manage,
            "is_self": not can_manage,
            "expertise": [
                roster.expertise_label(entry)
                for entry in profile.expertise.order_by("product_category", "issue_type", "id")
            ],
            "languages": [entry.get_language_display() for entry in profile.languages.order_by("id")],
            "qualifications": [(q, q.is_valid_on(today)) for q in qualifications],
            "has_valid_certificate": any(q.is_valid_on(today) for q in qualifications),
            "relationships": profile.relationships.select_related("organisation"),
            "unavailable": profile.unavailable.filter(end_date__gte=today),
            "status_form": StatusForm(initial={"status": profile.status}) if can_manage else None,
        },
    )


@login_required
def my_profile(request: AuthenticatedRequest) -> HttpResponse:
    profile = roster.profile_of_user(request.user)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    return redirect("mediators:profile_detail", mediator_pk=profile.pk)


@login_required
def profile_edit(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    profile = roster.get_profile_for_manager(request.user, mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = ProfileForm(request.POST or None, instance=MediatorProfile.objects.get(pk=profile.pk))
    if request.method == "POST" and form.is_valid():
        try:
            roster.update_profile(
                profile,
                actor=request.user,
                fields=form.profile_fields(),
                languages=form.cleaned_data["languages"],
                expertise=form.expertise_pairs(),
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("档案已更新。"))
            return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("编辑调解员档案"), submit=_("保存"), profile=profile)


@login_required
def profile_status(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    profile = roster.get_profile_for_manager(request.user, mediator_pk)
    if refused := _refuse_method(request, "POST"):
        return refused
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            roster.set_profile_status(
                profile,
                actor=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error("status", str(exc))
        else:
            messages.success(request, _("状态已改为「%(status)s」。") % {"status": profile.get_status_display()})
            return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("变更状态"), submit=_("变更状态"), profile=profile)


# --- staff: qualifications -------------------------------------------------------------------


@login_required
def qualification_add(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    profile = roster.get_profile_for_manager(request.user, mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = QualificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        roster.add_qualification(profile, actor=request.user, fields=form.cleaned_data, ip=ledger.client_ip(request))
        messages.success(request, _("已添加资格证书。"))
        return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("添加资格证书"), submit=_("添加"), profile=profile)


@login_required
def qualification_edit(request: AuthenticatedRequest, qualification_pk: int) -> HttpResponse:
    qualification = roster.get_qualification_for_manager(request.user, qualification_pk)
    profile = qualification.profile
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = QualificationForm(request.POST or None, instance=Qualification.objects.get(pk=qualification.pk))
    if request.method == "POST" and form.is_valid():
        roster.update_qualification(
            qualification, actor=request.user, fields=form.cleaned_data, ip=ledger.client_ip(request)
        )
        messages.success(request, _("资格证书已更新。"))
        return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("编辑资格证书"), submit=_("保存"), profile=profile)


@login_required
def qualification_delete(request: AuthenticatedRequest, qualification_pk: int) -> HttpResponse:
    qualification = roster.get_qualification_for_manager(request.user, qualification_pk)
    if refused := _refuse_method(request, "POST"):
        return refused
    profile_pk = qualification.profile_id
    roster.remove_qualification(qualification, actor=request.user, ip=ledger.client_ip(request))
    messages.success(request, _("已删除资格证书。"))
    return redirect("mediators:profile_detail", mediator_pk=profile_pk)


# --- declared relationships (staff, or the mediator for their own) ---------------------------


@login_required
def relationship_add(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    # 在线调解规则 Art 13: the mediator declares, so they may add to their own declarations.
    profile = roster.get_profile_for_viewer(request.user, mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = RelationshipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            roster.declare_relationship(
                profile, actor=request.user, fields=form.relationship_fields(), ip=ledger.client_ip(request)
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已登记该关系。"))
            return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("申报可能影响公正的关系"), submit=_("登记"), profile=profile)


@login_required
def relationship_edit(request: AuthenticatedRequest, relationship_pk: int) -> HttpResponse:
    # Only staff correct or remove a declaration: a mediator must not quietly withdraw one.
    relationship = roster.get_relationship_for_manager(request.user, relationship_pk)
    profile = relationship.profile
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = RelationshipForm(request.POST or None, instance=DeclaredRelationship.objects.get(pk=relationship.pk))
    if request.method == "POST" and form.is_valid():
        try:
            roster.update_relationship(
                relationship, actor=request.user, fields=form.relationship_fields(), ip=ledger.client_ip(request)
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已更新该关系。"))
            return redirect("mediators:profile_detail", mediator_pk=profile.pk)
    return _render_form(request, form, title=_("编辑申报的关系"), submit=_("保存"), profile=profile)


@login_required
def relationship_delete(request: AuthenticatedRequest, relationship_pk: int) -> HttpResponse:
    relationship = roster.get_relationship_for_manager(request.user, relationship_pk)
    if refused := _refuse_method(request, "POST"):
        return refused
    profile_pk = relationship.profile_id
    roster.remove_relationship(relationship, actor=request.user, ip=ledger.client_ip(request))
    messages.success(request, _("已删除该关系。"))
    return redirect("mediators:profile_detail", mediator_pk=profile_pk)


# --- the mediator's own availability ---------------------------------------------------------


@login_required
def availability(request: AuthenticatedRequest, mediator_pk: int) -> HttpResponse:
    profile = roster.get_own_profile(request.user, mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    form = UnavailabilityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            roster.add_unavailability(
                profile,
                actor=request.user,
                start_date=form.cleaned_data["start_date"],
                end_date=form.cleaned_data["end_date"],
                reason=form.cleaned_data["reason"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已登记不可调解的日期。"))
            return redirect("mediators:availability", mediator_pk=profile.pk)
    today = timezone.localdate()
    return render(
        request,
        "mediators/roster/availability.html",
        {
            "profile": profile,
            "form": form,
            "periods": Unavailability.objects.filter(profile=profile, end_date__gte=today),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def unavailable_delete(request: AuthenticatedRequest, unavailable_pk: int) -> HttpResponse:
    period = roster.get_unavailability_for_owner(request.user, unavailable_pk)
    if refused := _refuse_method(request, "POST"):
        return refused
    profile_pk = period.profile_id
    roster.remove_unavailability(period, actor=request.user, ip=ledger.client_ip(request))
    messages.success(request, _("已删除该不可调解时段。"))
    return redirect("mediators:availability", mediator_pk=profile_pk)


# --- the public roster (在线调解规则 Art 5) ----------------------------------------------------


def _public_card(profile: MediatorProfile) -> dict[str, Any]:
    """What the public may see of a mediator; contact details and caseloads never leave this function."""
    expertise: list[Expertise] = list(profile.expertise.all())
    return {
        "pk": profile.pk,
        "display_name": profile.display_name,
        "centre": profile.centre.name,
        "title": profile.title,
        "employment": profile.get_employment_display(),
        "region": profile.region,
        "languages": [entry.get_language_display() for entry in profile.languages.all()],
        "expertise": [roster.expertise_label(entry) for entry in expertise],
        "qualifications": [
            {"name": q.name, "issued_by": q.issued_by, "expires_on": q.expires_on} for q in profile.qualifications.all()
        ],
        "charges_fees": profile.charges_fees,
        "fee_note": profile.fee_note,
        "biography": profile.biography,
    }


@require_GET
def public_roster(request: HttpRequest) -> HttpResponse:
    form = RosterFilterForm(request.GET or None, regions=roster.public_regions())
    profiles = roster.public_profiles()
    if form.is_valid():
        profiles = roster.filter_public_profiles(profiles, form.cleaned_data)
    page = Paginator(profiles.order_by("display_name", "id"), ROSTER_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "mediators/roster/public_roster.html",
        {
            "form": form,
            "page": page,
            "cards": [_public_card(profile) for profile in page.object_list],
            "query": _query_without_page(request),
        },
    )


def public_profile(request: HttpRequest, mediator_pk: int) -> HttpResponse:
    profile = roster.get_public_profile(mediator_pk)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    return render(request, "mediators/roster/public_profile.html", {"card": _public_card(profile)})
