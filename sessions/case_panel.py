"""The mediation-rooms link on the case page, for the people who sit in a room of the case."""

from __future__ import annotations

from mediation.models import Case, CaseState, User
from mediation.views.cases import CasePanel
from sessions import services

# Rooms are open while mediation runs; afterwards they stay readable as a record.
ROOM_STATES = {
    CaseState.MEDIATING,
    CaseState.AGREEMENT_EFFECTIVE,
    CaseState.CONFIRMATION_APPLIED,
    CaseState.CONFIRMED,
    CaseState.CONFIRMATION_REJECTED,
    CaseState.PERFORMING,
    CaseState.CLOSED,
    CaseState.TERMINATED,
}


def rooms_panel(user: User, case: Case) -> CasePanel | None:
    if case.state not in ROOM_STATES:
        return None
    rooms = services.rooms_for_user(user, case)
    if not rooms:
        return None
    return CasePanel("sessions/_case_panel.html", {"case": case, "rooms": rooms})
