"""The mediator pool's section on the case page: what this reader can do about the mediator now."""

from __future__ import annotations

from mediation import permissions
from mediation.models import Case, CaseState, User
from mediation.views.cases import CasePanel
from mediators import neutrality
from mediators.models import Disclosure

BEFORE_AGREEMENT = {CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING}
FINISHED = {CaseState.CLOSED, CaseState.TERMINATED}


def mediator_panel(user: User, case: Case) -> CasePanel | None:
    side = neutrality.party_side(case, user)
    manages = user.has_perm(permissions.MANAGE, case)
    mediates = user.has_perm(permissions.MEDIATE, case)
    links = {
        "choose": side is not None and case.state == CaseState.CHOOSING_MEDIATOR,
        "disclosure": mediates and case.state == CaseState.AWAITING_MEDIATOR,
        "disclosures": side is not None
        and case.state == CaseState.AWAITING_MEDIATOR
        and Disclosure.objects.filter(case=case).exists(),
        "changes": (side is not None or manages) and case.state in BEFORE_AGREEMENT,
        "assign": manages
        and case.state in {CaseState.CHOOSING_MEDIATOR, CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING},
        "exclusions": manages and not case.is_final,
        "rate": side is not None and case.state in FINISHED,
        "complain": side is not None and case.participants.filter(capacity__in=["mediator", "lead_mediator"]).exists(),
    }
    if not any(links.values()):
        return None
    latest = (
        Disclosure.objects.filter(case=case).order_by("-created_at", "-id").first() if links["disclosures"] else None
    )
    return CasePanel("mediators/_case_panel.html", {"case": case, "links": links, "latest_disclosure": latest})
