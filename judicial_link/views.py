"""Readiness for judicial confirmation: what is missing, how to fix it, and which courts may confirm."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from judicial_link import preflight, venue
from mediation import permissions
from mediation.views.accounts import AuthenticatedRequest


@login_required
def readiness(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    result = preflight.preflight(case)
    context = {
        "case": case,
        "result": result,
        "courts": venue.allowed_courts(case),
        "unassessed": venue.unassessed_grounds(case),
    }
    return render(request, "judicial_link/readiness.html", context)
