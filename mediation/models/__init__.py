from mediation.models.cases import (
    FINAL_STATES,
    Case,
    CaseGroupObjectPermission,
    CaseParticipant,
    CaseState,
    CaseTransition,
    CaseUserObjectPermission,
    Evidence,
    ExtensionRequest,
    InstitutionAnswer,
    IntakeChannel,
    NotAcceptedReason,
    TerminationReason,
)
from mediation.models.clocks import CalendarDay, CalendarYear, ClockKind, DayUnit, Deadline, DeadlineReminder
from mediation.models.ledger import LedgerEntry, LedgerHead
from mediation.models.notifications import Notification
from mediation.models.organisations import Organisation
from mediation.models.otp import OneTimeCode
from mediation.models.people import ROLE_ORGANISATION_KIND, STAFF_ROLES, Role, User

__all__ = [
    "FINAL_STATES",
    "ROLE_ORGANISATION_KIND",
    "STAFF_ROLES",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseGroupObjectPermission",
    "CaseParticipant",
    "CaseState",
    "CaseTransition",
    "CaseUserObjectPermission",
    "ClockKind",
    "DayUnit",
    "Deadline",
    "DeadlineReminder",
    "Evidence",
    "ExtensionRequest",
    "InstitutionAnswer",
    "IntakeChannel",
    "LedgerEntry",
    "LedgerHead",
    "NotAcceptedReason",
    "Notification",
    "OneTimeCode",
    "Organisation",
    "Role",
    "TerminationReason",
    "User",
]
