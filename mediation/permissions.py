"""Who may reach which case: django-guardian object permissions, granted by the services.

- consumers: the cases they are a party to (per-user permissions);
- institution agents: cases transferred to their institution, or to a branch below it
  (a group per organisation, granted on the institution and each organisation above it);
- case managers: every case of their centre (a group per centre);
- mediators: the cases they are assigned to (per-user, withdrawn on removal);
- courts and regulators: no case pages (courts get applications in the judicial issue,
  regulators only aggregates).

Everyone else gets 404 from ``get_case_for_user``: an outsider learns nothing, not even that
the case exists.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group
from django.db import transaction
from django.db.models import Q, QuerySet
from django.dispatch import Signal
from django.http import Http404
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from mediation.models import Case, CaseParticipant, Organisation, Role, User

VIEW = "mediation.view_case"
ANSWER = "mediation.answer_case"
MANAGE = "mediation.manage_case"
MEDIATE = "mediation.mediate_case"
TAKE_PART = "mediation.take_part_case"

# Sent after commit with ``case`` and ``user`` when a participation's permissions are withdrawn,
# so that whatever that person holds open on the case (a room's websocket) can close at once.
access_withdrawn = Signal()

CAPACITY_PERMS: dict[str, list[str]] = {
    CaseParticipant.Capacity.CONSUMER: [VIEW, TAKE_PART],
    CaseParticipant.Capacity.INSTITUTION_AGENT: [VIEW, ANSWER, TAKE_PART],
    CaseParticipant.Capacity.MEDIATOR: [VIEW, MEDIATE],
    CaseParticipant.Capacity.LEAD_MEDIATOR: [VIEW, MEDIATE],
}


def organisation_group(organisation: Organisation) -> Group:
    """The group of everyone working for this organisation (agents or centre staff)."""
    group, _created = Group.objects.get_or_create(name=f"org-{organisation.pk}")
    return group


def sync_user_groups(user: User) -> None:
    """Put institution agents and case managers in their organisation's group, and only there."""
    wanted: set[str] = set()
    organisation = user.organisation if user.role in (Role.INSTITUTION_AGENT, Role.CASE_MANAGER) else None
    if organisation is not None and user.is_active:
        wanted.add(organisation_group(organisation).name)
    current = set(user.groups.filter(name__startswith="org-").values_list("name", flat=True))
    for name in current - wanted:
        user.groups.remove(Group.objects.get(name=name))
    for name in wanted - current:
        user.groups.add(Group.objects.get(name=name))


def grant_centre_access(case: Case) -> None:
    group = organisation_group(case.centre)
    for perm in (VIEW, MANAGE):
        assign_perm(perm, group, case)


def grant_institution_access(case: Case) -> None:
    """On transfer: the institution the complaint is against and every level above it."""
    for organisation in case.institution.ancestors():
        group = organisation_group(organisation)
        for perm in (VIEW, ANSWER):
            assign_perm(perm, group, case)


def grant_participant(participant: CaseParticipant) -> None:
    for perm in CAPACITY_PERMS[participant.capacity]:
        assign_perm(perm, participant.user, participant.case)


def withdraw_participant(participant: CaseParticipant) -> None:
    """Remove the permissions this participation gave, keeping those of other active roles."""
    still = {
        perm
        for other in CaseParticipant.objects.filter(
            case=participant.case, user=participant.user, removed_at__isnull=True
        ).exclude(pk=participant.pk)
        for perm in CAPACITY_PERMS[other.capacity]
    }
    for perm in CAPACITY_PERMS[participant.capacity]:
        if perm not in still:
            remove_perm(perm, participant.user, participant.case)
    case, user = participant.case, participant.user
    transaction.on_commit(lambda: access_withdrawn.send(sender=CaseParticipant, case=case, user=user), robust=True)


def get_case_for_user(user: User | AnonymousUser, pk: int | str, *, perm: str = VIEW) -> Case:
    """The one door to a case: returns it, or raises 404 for anyone without ``perm``."""
    try:
        case = Case.objects.select_related("institution", "centre").get(pk=pk)
    except (Case.DoesNotExist, ValueError):
        raise Http404 from None
    if not user.is_authenticated or not user.has_perm(perm, case):
        raise Http404
    return case


def cases_for_user(user: User | AnonymousUser, perm: str = VIEW) -> QuerySet[Case]:
    """Every case ``user`` holds ``perm`` on, directly or through a group; one SQL query."""
    # guardian's has_perm refuses inactive users but get_objects_for_user does not check:
    # without this a deactivated account would still list the cases it can no longer open.
    if not user.is_authenticated or not user.is_active:
        return Case.objects.none()
    return get_objects_for_user(user, perm, klass=Case, accept_global_perms=False)


def users_with_case_perm(case: Case, perm: str) -> QuerySet[User]:
    """Active users holding ``perm`` on ``case`` directly or through a group (for notifications)."""
    codename = perm.split(".", 1)[1]
    direct = Q(
        caseuserobjectpermission__content_object=case,
        caseuserobjectpermission__permission__codename=codename,
    )
    via_group = Q(
        groups__casegroupobjectpermission__content_object=case,
        groups__casegroupobjectpermission__permission__codename=codename,
    )
    return User.objects.filter(is_active=True).filter(direct | via_group).distinct()
