"""What the service tests look at: a case's whole recorded state, the ledger and notifications."""

from __future__ import annotations

from typing import Any

from mediation.models import (
    Case,
    CaseTransition,
    Deadline,
    ExtensionRequest,
    InstitutionAnswer,
    LedgerEntry,
    Notification,
    User,
)


def fresh(user: User) -> User:
    """A new object for the same account (object permissions must not come from a cached user)."""
    return User.objects.get(pk=user.pk)


def snapshot(case: Case) -> dict[str, Any]:
    """Everything a refused service call must leave as it was."""
    case.refresh_from_db()
    return {
        "state": case.state,
        "termination_reason": case.termination_reason,
        "transitions": CaseTransition.objects.filter(case=case).count(),
        "ledger": LedgerEntry.objects.count(),
        "notifications": Notification.objects.count(),
        "participants": list(case.participants.values_list("user_id", "capacity", "removed_at")),
        "deadlines": list(
            Deadline.objects.filter(case=case).values_list(
                "kind", "status", "due_date", "extension_days", "paused_days"
            )
        ),
        "extension_requests": ExtensionRequest.objects.filter(deadline__case=case).count(),
        "answers": InstitutionAnswer.objects.filter(case=case).count(),
    }


def notified(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


def last_entry(action: str) -> LedgerEntry:
    return LedgerEntry.objects.filter(action=action).latest("seq")
