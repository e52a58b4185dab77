"""The sessions section of the case page: the sittings' schedule, and the rooms for the people in one."""

from __future__ import annotations

from django.utils import timezone

from mediation.models import Case, CaseState, User
from mediation.views.cases import CasePanel
from sessions import services
from sessions.models import MediationSession

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
    """Everyone who reads the case page sees the schedule link; only people in a room see the rooms."""
    if case.state not in ROOM_STATES:
        return None
    rooms = services.rooms_for_user(user, case)
    next_sitting = (
        MediationSession.objects.filter(
            case=case, state=MediationSession.State.SCHEDULED, scheduled_end__gt=timezone.now()
        )
        .order_by("scheduled_start")
        .first()
    )
    return CasePanel("sessions/_case_panel.html", {"case": case, "rooms": rooms, "next_sitting": next_sitting})
