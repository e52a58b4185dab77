"""The agreement's section on the case page: its state and the way to the drafts (or to start one)."""

from __future__ import annotations

from mediation import permissions
from mediation.models import Case, CaseState, User
from mediation.views.cases import CasePanel
from signing import services
from signing.models import Agreement

# MEDIATING and every state a case can reach after it.
FROM_MEDIATION = {
    CaseState.MEDIATING,
    CaseState.AGREEMENT_EFFECTIVE,
    CaseState.CONFIRMATION_APPLIED,
    CaseState.CONFIRMED,
    CaseState.CONFIRMATION_REJECTED,
    CaseState.PERFORMING,
    CaseState.CLOSED,
    CaseState.TERMINATED,
}


def agreement_panel(user: User, case: Case) -> CasePanel | None:
    """Shown to people on the case once mediation has started, when there is an agreement to see
    or (for its mediator, while mediating) one to start."""
    if case.state not in FROM_MEDIATION or not user.has_perm(permissions.VIEW, case):
        return None
    agreement = Agreement.objects.filter(case=case).select_related("final_version").first()
    mediates = user.has_perm(permissions.MEDIATE, case)
    if agreement is None and not (mediates and case.state == CaseState.MEDIATING):
        return None
    latest = agreement.versions.order_by("-number").first() if agreement is not None else None
    # Whose turn it is to sign is the one thing a signer must not have to look for.
    my_turn = services.next_slot(user, agreement) if agreement is not None else None
    return CasePanel(
        "signing/_case_panel.html",
        {"case": case, "agreement": agreement, "latest": latest, "mediates": mediates, "my_turn": my_turn},
    )
