"""The judicial-confirmation section of the case page: the 30-day window and where to check readiness."""

from __future__ import annotations

from django.utils import timezone

from judicial_link import enforcement, performance, termination
from judicial_link.models import DueItem, ReferralPackage
from mediation import permissions
from mediation.models import Case, CaseState, ClockKind, Deadline, Role, User
from mediation.views.cases import CasePanel

AFTER_AGREEMENT = {
    CaseState.AGREEMENT_EFFECTIVE,
    CaseState.CONFIRMATION_APPLIED,
    CaseState.CONFIRMED,
    CaseState.CONFIRMATION_REJECTED,
}


def confirmation_panel(user: User, case: Case) -> CasePanel | None:
    if case.state not in AFTER_AGREEMENT or not user.has_perm(permissions.VIEW, case):
        return None
    window = case.deadlines.filter(kind=ClockKind.JUDICIAL_CONFIRMATION).order_by("-pk").first()
    return CasePanel(
        "judicial_link/_case_panel.html",
        {
            "case": case,
            "window": window,
            "closed": window is not None and window.status == Deadline.Status.EXPIRED,
            "may_apply": case.state == CaseState.AGREEMENT_EFFECTIVE,
        },
    )


def termination_panel(user: User, case: Case) -> CasePanel | None:
    """在线调解规则 Art 21: once mediation has failed, the termination record and the referral package."""
    if case.state != CaseState.TERMINATED or not user.has_perm(permissions.VIEW, case):
        return None
    return CasePanel(
        "judicial_link/termination/_case_panel.html",
        {
            "case": case,
            "record": termination.record_of(case),
            "drafter": termination.may_draft(user, case),
            "referral": ReferralPackage.objects.filter(case=case).first(),
        },
    )


def performance_panel(user: User, case: Case) -> CasePanel | None:
    """Performance of the agreement: how many items are confirmed, overdue, disputed; the next one due."""
    if not user.has_perm(permissions.VIEW, case):
        return None
    items = list(DueItem.objects.filter(case=case).order_by("sequence"))
    if not items:
        return None
    today = timezone.localdate()
    return CasePanel(
        "judicial_link/performance/_case_panel.html",
        {
            "case": case,
            "summary": performance.summary(items, today),
            "limit": enforcement.enforcement_limit(items),
            "today": today,
            # Case managers also see how many items are overdue across their centre.
            "centre_overdue": performance.overdue_for_centre(case.centre_id, today).count()
            if user.role == Role.CASE_MANAGER and user.organisation_id == case.centre_id
            else None,
        },
    )
