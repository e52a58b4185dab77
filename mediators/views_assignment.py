"""The case manager's assignment page: recommended mediators with their reasons, one click to assign.

While the case is choosing its mediator the pick becomes the lead (在线调解规则 Art 10: the centre
appoints when the parties have not chosen); once a lead is on the case, the pick joins as a
co-mediator (Art 11). The services decide what the case's state and the pool's rules allow.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mediation import ledger, permissions, services
from mediation.models import Case, CaseParticipant, CaseState
from mediation.views.accounts import AuthenticatedRequest
from mediators.forms_assignment import AssignFromPoolForm
from mediators.models import MediatorProfile
from mediators.recommendation import MEDIATOR_CAPACITIES, recommend

CO_MEDIATION_STATES = {CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING}


def assignment_mode(case: Case) -> str | None:
    """ "lead", "co" or None when the case's state allows neither."""
    if case.state == CaseState.CHOOSING_MEDIATOR:
        return "lead"
    if case.state in CO_MEDIATION_STATES:
        return "co"
    return None


def _assign(request: AuthenticatedRequest, case: Case, profile: MediatorProfile) -> str:
    """Put ``profile`` on ``case`` as the state allows; returns the success message."""
    ip = ledger.client_ip(request)
    if case.state == CaseState.CHOOSING_MEDIATOR:
        services.assign_mediator(case, actor=request.user, mediator=profile.user, ip=ip)
        return _("已指定调解员 %(name)s，等待其接受。") % {"name": profile.display_name}
    services.add_co_mediator(case, actor=request.user, mediator=profile.user, ip=ip)
    return _("已增加 %(name)s 为本案共同调解员。") % {"name": profile.display_name}


@login_required
def case_assign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MANAGE)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    form = AssignFromPoolForm(request.POST or None, centre=case.centre)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                success = _assign(request, case, form.cleaned_data["mediator"])
            except services.CaseError as exc:
                messages.error(request, str(exc))
                return redirect("mediators:case_assign", pk=case.pk)
            messages.success(request, success)
            return redirect("case_detail", pk=case.pk)
        status = 400
    on_case = (
        CaseParticipant.objects.filter(case=case, capacity__in=MEDIATOR_CAPACITIES, removed_at__isnull=True)
        .select_related("user")
        .order_by("capacity", "joined_at", "pk")
    )
    return render(
        request,
        "mediators/assignment/case_assign.html",
        {
            "case": case,
            "form": form,
            "mode": assignment_mode(case),
            "recommendations": recommend(case),
            "on_case": on_case,
        },
        status=status,
    )
