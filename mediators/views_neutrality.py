"""Neutrality pages: exclusions (staff), the parties' choice, disclosure and responses, change requests.

Every view fetches the case through ``permissions.get_case_for_user`` first, before any method
check, so an outsider gets the same 404 whatever the method. Pages meant for one kind of person on
the case (a party, the centre) answer 404 to the others on it as well: nothing there is theirs.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mediation import ledger, permissions
from mediation.models import Case, CaseState, ClockKind, Deadline, User
from mediation.services import CaseError
from mediation.views.accounts import AuthenticatedRequest
from mediators import neutrality, roster
from mediators.forms_neutrality import (
    ChangeDecisionForm,
    ChangeRequestForm,
    DisclosureForm,
    DisclosureResponseForm,
    PartyChoiceForm,
)
from mediators.models import ChangeRequest, Disclosure, MediatorProfile

TEMPLATES = "mediators/neutrality/"


def _party_side_or_404(case: Case, user: User) -> str:
    side = neutrality.party_side(case, user)
    if side is None:
        raise Http404
    return side


def _get_or_post(request: AuthenticatedRequest) -> HttpResponse | None:
    """Called after the permission getter, so a stranger's PUT is a 404 too, not a 405."""
    return None if request.method in ("GET", "POST") else HttpResponseNotAllowed(["GET", "POST"])


def _render(
    request: AuthenticatedRequest, name: str, context: dict[str, Any], *, bound: forms.Form | None
) -> HttpResponse:
    """A page; with a bound form that failed, 400 so the client knows nothing was changed."""
    status = 400 if bound is not None and bound.is_bound and bound.errors else 200
    return render(request, TEMPLATES + name, context, status=status)


# --- exclusions (staff) ----------------------------------------------------------------------


@login_required
def case_exclusions(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The centre's mediators who may not take this case, each with the reasons (Art 13)."""
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MANAGE)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    rows = neutrality.centre_refusals(case)
    return render(
        request,
        TEMPLATES + "exclusions.html",
        {
            "case": case,
            "excluded": [(profile, reasons) for profile, reasons in rows if reasons],
            "eligible_count": sum(1 for _profile, reasons in rows if not reasons),
        },
    )


# --- joint choice (Art 10) -------------------------------------------------------------------


def _public_card(profile: MediatorProfile, case: Case) -> dict[str, Any]:
    """What the public roster shows (Art 5); the parties see no contact details and no caseload."""
    return {
        "display_name": profile.display_name,
        "centre": case.centre.name,
        "title": profile.title,
        "employment": profile.get_employment_display(),
        "region": profile.region,
        "languages": [entry.get_language_display() for entry in profile.languages.all()],
        "expertise": [roster.expertise_label(entry) for entry in profile.expertise.all()],
        "charges_fees": profile.charges_fees,
        "fee_note": profile.fee_note,
        "biography": profile.biography,
    }


@login_required
def choose(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk)
    side = _party_side_or_404(case, request.user)
    if (refused := _get_or_post(request)) is not None:
        return refused
    is_open = neutrality.choice_open(case)
    eligible = neutrality.eligible_mediators(case) if is_open else []
    form = PartyChoiceForm(request.POST or None, eligible=eligible)
    if request.method == "POST" and form.is_valid():
        profile: MediatorProfile = form.cleaned_data["mediator"]
        try:
            neutrality.choose_mediator(case, party=request.user, mediator=profile.user, ip=ledger.client_ip(request))
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            case.refresh_from_db()
            if case.state == CaseState.AWAITING_MEDIATOR:
                messages.success(
                    request, _("双方共同选定了调解员 %(name)s，等待其接受委派。") % {"name": profile.display_name}
                )
                return redirect("case_detail", pk=case.pk)
            messages.success(
                request,
                _("已记录我方选择：%(name)s。对方选择同一位调解员后即完成选定。") % {"name": profile.display_name},
            )
            return redirect("mediators:choose_mediator", pk=case.pk)
    picks = neutrality.side_choices(case)
    by_user = {p.user_id: p for p in eligible}
    other_side = neutrality.INSTITUTION_SIDE if side == neutrality.CONSUMER_SIDE else neutrality.CONSUMER_SIDE
    deadline = case.deadlines.filter(kind=ClockKind.PARTY_CHOICE).order_by("-created_at", "-id").first()
    return _render(
        request,
        "choose.html",
        {
            "case": case,
            "form": form,
            "is_open": is_open,
            "cards": [(profile, _public_card(profile, case)) for profile in eligible],
            "deadline": deadline if deadline is not None and deadline.status == Deadline.Status.RUNNING else None,
            "my_pick": by_user.get(picks[side] or 0),
            "other_pick": by_user.get(picks[other_side] or 0),
        },
        bound=form,
    )


# --- disclosure (Art 13) ---------------------------------------------------------------------


@login_required
def disclosure(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The assigned mediator states "no conflict" (and accepts) or discloses a conflict."""
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MEDIATE)
    if (refused := _get_or_post(request)) is not None:
        return refused
    form = DisclosureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = ledger.client_ip(request)
        try:
            if form.has_conflict:
                made = neutrality.record_disclosure(
                    case, mediator=request.user, has_conflict=True, text=form.cleaned_data["text"], ip=ip
                )
            elif case.state == CaseState.AWAITING_MEDIATOR:
                made = neutrality.confirm_no_conflict_and_accept(case, mediator=request.user, ip=ip)
            else:
                made = neutrality.record_disclosure(case, mediator=request.user, has_conflict=False, ip=ip)
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            if made.has_conflict:
                messages.success(request, _("已披露，等待各方当事人表示是否同意您继续调解。"))
                return redirect("mediators:disclosure_detail", pk=case.pk, disclosure_pk=made.pk)
            messages.success(request, _("已声明无利益冲突。"))
            return redirect("case_detail", pk=case.pk)
    latest = neutrality.latest_disclosure(case, request.user)
    return _render(
        request,
        "disclosure.html",
        {
            "case": case,
            "form": form,
            "can_state": case.state in neutrality.CHANGE_STATES,
            "disclosures": Disclosure.objects.filter(case=case, mediator=request.user).order_by("-created_at", "-id"),
            "can_accept": (
                case.state == CaseState.AWAITING_MEDIATOR
                and latest is not None
                and latest.has_conflict
                and neutrality.disclosure_cleared(latest)
            ),
        },
        bound=form,
    )


@login_required
def disclosure_accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Accept once every party agreed that the mediator continue despite the disclosure."""
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MEDIATE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        neutrality.accept_after_disclosure(case, mediator=request.user, ip=ledger.client_ip(request))
    except CaseError as exc:
        messages.error(request, str(exc))
        return redirect("mediators:disclosure", pk=case.pk)
    messages.success(request, _("您已接受委派，调解期限开始计算。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def disclosure_detail(request: AuthenticatedRequest, pk: int, disclosure_pk: int) -> HttpResponse:
    """A disclosure as the parties see it, each answering continue or change (Art 13)."""
    case = permissions.get_case_for_user(request.user, pk)
    made = get_object_or_404(Disclosure.objects.select_related("mediator"), pk=disclosure_pk, case=case)
    if (refused := _get_or_post(request)) is not None:
        return refused
    side = neutrality.party_side(case, request.user)
    if request.method == "POST" and side is None:
        raise Http404
    responses = neutrality.responded_sides(made)
    own = made.responses.filter(party=request.user).first()
    may_answer = (
        side is not None
        and made.has_conflict
        and own is None
        and not (side == neutrality.INSTITUTION_SIDE and neutrality.INSTITUTION_SIDE in responses)
    )
    form = DisclosureResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            neutrality.respond_to_disclosure(
                made, party=request.user, decision=form.cleaned_data["decision"], ip=ledger.client_ip(request)
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已记录您的意见。"))
            return redirect("mediators:disclosure_detail", pk=case.pk, disclosure_pk=made.pk)
    return _render(
        request,
        "disclosure_detail.html",
        {
            "case": case,
            "disclosure": made,
            "form": form,
            "may_answer": may_answer,
            "responses": made.responses.select_related("party").order_by("created_at", "id"),
            "cleared": neutrality.disclosure_cleared(made),
        },
        bound=form,
    )


# --- change requests (Art 14) ----------------------------------------------------------------


@login_required
def change_requests(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Parties ask for a change with a reason; the centre sees every request and decides."""
    case = permissions.get_case_for_user(request.user, pk)
    side = neutrality.party_side(case, request.user)
    is_centre = request.user.has_perm(permissions.MANAGE, case)
    if side is None and not is_centre:
        raise Http404
    if (refused := _get_or_post(request)) is not None:
        return refused
    if request.method == "POST" and side is None:
        raise Http404
    mediators = [p.user for p in neutrality.active_mediators(case)]
    form = ChangeRequestForm(request.POST or None, mediators=mediators)
    if request.method == "POST" and form.is_valid():
        try:
            neutrality.request_change(
                case,
                party=request.user,
                mediator=form.cleaned_data["mediator"],
                reason=form.cleaned_data["reason"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("更换申请已提交，调解中心将作出决定。"))
            return redirect("mediators:change_requests", pk=case.pk)
    requests = ChangeRequest.objects.filter(case=case).select_related("mediator", "requested_by")
    if side is not None:
        requests = requests.filter(requested_by__role=request.user.role)
    return _render(
        request,
        "changes.html",
        {
            "case": case,
            "form": form,
            "is_party": side is not None,
            "is_centre": is_centre,
            "can_request": side is not None and case.state in neutrality.CHANGE_STATES and bool(mediators),
            "requests": requests.order_by("-created_at", "-id"),
        },
        bound=form,
    )


def _change_for_case(case: Case, change_pk: int) -> ChangeRequest:
    return get_object_or_404(
        ChangeRequest.objects.select_related("mediator", "requested_by", "decided_by"), pk=change_pk, case=case
    )


@login_required
def decide_change(request: AuthenticatedRequest, pk: int, change_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MANAGE)
    change = _change_for_case(case, change_pk)
    if (refused := _get_or_post(request)) is not None:
        return refused
    form = ChangeDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            neutrality.decide_change(
                change,
                actor=request.user,
                grant=form.grant,
                note=form.cleaned_data["note"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("已同意更换，调解员已退出本案，请重新指定调解员。") if form.grant else _("已决定不予更换。"),
            )
            return redirect("mediators:decide_change", pk=case.pk, change_pk=change.pk)
    refused_all = not case.is_final and neutrality.refused_every_choice(case, change.requested_by)
    return _render(
        request,
        "decide_change.html",
        {
            "case": case,
            "change": change,
            "form": form,
            "pending": change.status == ChangeRequest.Status.PENDING and not case.is_final,
            "refused_all": refused_all,
        },
        bound=form,
    )


@login_required
def terminate_refused(request: AuthenticatedRequest, pk: int, change_pk: int) -> HttpResponse:
    """The requesting party refused every mediator the centre can offer: mediation ends (Art 25)."""
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MANAGE)
    change = _change_for_case(case, change_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        neutrality.terminate_for_refusal(
            case, actor=request.user, party=change.requested_by, ip=ledger.client_ip(request)
        )
    except CaseError as exc:
        messages.error(request, str(exc))
        return redirect("mediators:decide_change", pk=case.pk, change_pk=change.pk)
    messages.success(request, _("已记录当事人拒绝调解，调解终止，已通知各方。"))
    return redirect("case_detail", pk=case.pk)
