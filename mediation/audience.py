"""Who is told about a case: the people each notification and reminder goes to."""

from __future__ import annotations

from mediation import permissions
from mediation.models import Case, CaseParticipant, Role, User


def case_managers(case: Case) -> list[User]:
    return list(User.objects.filter(role=Role.CASE_MANAGER, organisation_id=case.centre_id, is_active=True))


def participants(case: Case) -> list[User]:
    """Everyone on the case in person: consumers and assigned mediators."""
    return [p.user for p in case.participants.filter(removed_at__isnull=True).select_related("user")]


def consumers(case: Case) -> list[User]:
    return [
        p.user
        for p in case.participants.filter(
            removed_at__isnull=True, capacity=CaseParticipant.Capacity.CONSUMER
        ).select_related("user")
    ]


def institution_people(case: Case) -> list[User]:
    """The institution's agents who may answer: its own and those of every level above it."""
    return list(permissions.users_with_case_perm(case, permissions.ANSWER))


def mediators(case: Case) -> list[User]:
    return list(permissions.users_with_case_perm(case, permissions.MEDIATE))


def both_sides(case: Case) -> list[User]:
    """The consumers and the institution's people answering for it."""
    return consumers(case) + institution_people(case)
