"""Neutrality: who may not mediate a case, the parties' joint choice, disclosure and change requests.

Exclusion (在线调解规则 Art 13; 特邀调解规定 Art 15) is worked out from what the mediator declared
(``DeclaredRelationship``) against the institution complained about, read as its whole head-office
tree: a bank's branches are the bank. The core refuses an excluded mediator through the hook
registered in ``apps.py`` (``check_assignment``), so no path of assignment can skip these rules.

The workflow functions follow the core's services: one transaction, the case row locked, the
state guarded, ``CaseError`` with a readable sentence, a ledger entry, notifications after commit.
The two parties are the consumer side and the institution side; the institution counts as one
party, so any of its agents holding the ANSWER permission acts for it (Art 10: "双方共同选定").
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import audience, ledger, permissions, services
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    Organisation,
    Role,
    TerminationReason,
    User,
)
from mediation.notifications import notify
from mediation.services import CaseError
from mediators import roster
from mediators.models import (
    ChangeRequest,
    DeclaredRelationship,
    Disclosure,
    DisclosureResponse,
    MediatorProfile,
    PartyChoice,
)

CONSUMER_SIDE = "consumer"
INSTITUTION_SIDE = "institution"
MEDIATOR_CAPACITIES = [CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR]
# 在线调解规则 Art 14: a change may be asked for at any time before agreement.
CHANGE_STATES = {CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING}

Kind = DeclaredRelationship.Kind


# --- exclusion -------------------------------------------------------------------------------


def institution_tree_ids(case: Case) -> set[int]:
    """The head office of the case's institution and every organisation below it."""
    root = case.institution.head_office
    ids, frontier = {root.pk}, [root.pk]
    while frontier:
        children = Organisation.objects.filter(parent__in=frontier).values_list("pk", flat=True)
        # A parent loop entered in the admin must not loop here forever.
        frontier = [pk for pk in children if pk not in ids]
        ids.update(frontier)
    return ids


def consumer_names(case: Case) -> set[str]:
    names = CaseParticipant.objects.filter(
        case=case, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
    ).values_list("user__real_name", flat=True)
    return {name.strip() for name in names if name and name.strip()}


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _relationship_reason(
    relationship: DeclaredRelationship, tree_ids: set[int], names: set[str], on: datetime.date
) -> str | None:
    """Why this declaration excludes the mediator from the case, or None if it does not."""
    organisation = relationship.organisation
    in_tree = organisation is not None and organisation.pk in tree_ids
    years = settings.MEDIATOR_EXCLUSION_YEARS
    if in_tree and organisation is not None:
        if relationship.kind == Kind.PAST_EMPLOYMENT:
            if relationship.end_date is None:
                return _("目前在%(organisation)s任职") % {"organisation": organisation.name}
            if relationship.end_date >= _years_before(on, years):
                return _("%(end)s前在%(organisation)s任职，离职未满%(years)s年") % {
                    "end": relationship.end_date.isoformat(),
                    "organisation": organisation.name,
                    "years": years,
                }
        elif relationship.kind == Kind.FINANCIAL_INTEREST:
            return _("申报持有%(organisation)s的股份或其他经济利益") % {"organisation": organisation.name}
        elif relationship.kind == Kind.CLOSE_RELATIVE:
            return _("近亲属在%(organisation)s任职") % {"organisation": organisation.name}
    person = relationship.person_name.strip()
    if person and person in names:
        return _("申报与投诉人%(name)s存在关系：%(kind)s") % {"name": person, "kind": relationship.get_kind_display()}
    return None


def exclusions_for(
    profiles: Iterable[MediatorProfile], case: Case, on: datetime.date | None = None
) -> dict[int, list[str]]:
    """Conflict reasons per profile id (only profiles with at least one), in one query."""
    on = on or timezone.localdate()
    wanted = {p.pk for p in profiles}
    if not wanted:
        return {}
    tree_ids = institution_tree_ids(case)
    names = consumer_names(case)
    # Only declarations that can matter for this case are read, whatever the size of the pool.
    relevant = DeclaredRelationship.objects.filter(
        Q(organisation_id__in=tree_ids, kind__in=[Kind.PAST_EMPLOYMENT, Kind.FINANCIAL_INTEREST, Kind.CLOSE_RELATIVE])
        | Q(person_name__in=names)
    )
    if len(wanted) <= 500:
        # A whole pool of ids would hit the database's parameter limit; the conditions above
        # already keep the rows read few, so large pools are filtered here in Python instead.
        relevant = relevant.filter(profile_id__in=wanted)
    reasons: dict[int, list[str]] = defaultdict(list)
    for relationship in relevant.select_related("organisation").order_by("profile_id", "kind", "id"):
        if relationship.profile_id not in wanted:
            continue
        reason = _relationship_reason(relationship, tree_ids, names, on)
        if reason is not None and reason not in reasons[relationship.profile_id]:
            reasons[relationship.profile_id].append(reason)
    return dict(reasons)


def exclusion_reasons(profile: MediatorProfile, case: Case, on: datetime.date | None = None) -> list[str]:
    """Why ``profile`` may not mediate ``case`` because of a declared relationship (empty: none)."""
    return exclusions_for([profile], case, on).get(profile.pk, [])


def excluded_profile_ids(profiles: Iterable[MediatorProfile], case: Case, on: datetime.date | None = None) -> set[int]:
    return set(exclusions_for(profiles, case, on))


def _standing_reasons(profile: MediatorProfile, case: Case, on: datetime.date) -> list[str]:
    """The pool's own conditions, before any conflict: the centre's roster, status, certificate."""
    reasons = []
    if not profile.user.is_active or profile.user.role != Role.MEDIATOR:
        reasons.append(_("调解员账户已停用"))
    if profile.centre_id != case.centre_id:
        reasons.append(_("不在本案调解中心的调解员名册中"))
    if profile.status != MediatorProfile.Status.ACTIVE:
        reasons.append(_("调解员状态为「%(status)s」") % {"status": profile.get_status_display()})
    if not roster.has_valid_certificate(profile, on=on):
        reasons.append(_("没有有效期内的调解员资格证书"))
    return reasons


def assignment_refusals(profile: MediatorProfile, case: Case, on: datetime.date | None = None) -> list[str]:
    """Every reason ``profile`` may not be put on ``case`` (empty: assignable)."""
    on = on or timezone.localdate()
    return _standing_reasons(profile, case, on) + exclusion_reasons(profile, case, on)


def centre_refusals(case: Case, on: datetime.date | None = None) -> list[tuple[MediatorProfile, list[str]]]:
    """Every mediator on the case's centre roster with the reasons they may not take it."""
    on = on or timezone.localdate()
    profiles = list(
        MediatorProfile.objects.filter(centre_id=case.centre_id)
        .select_related("user")
        .prefetch_related("qualifications", "expertise", "languages")
    )
    conflicts = exclusions_for(profiles, case, on)
    return [(p, _standing_reasons(p, case, on) + conflicts.get(p.pk, [])) for p in profiles]


def eligible_mediators(case: Case, on: datetime.date | None = None) -> list[MediatorProfile]:
    """The centre's mediators who may be put on ``case`` today, roster order."""
    return [profile for profile, reasons in centre_refusals(case, on) if not reasons]


def check_assignment(case: Case, mediator: User) -> None:
    """The core's assignment hook: refuse a mediator the pool's rules exclude (Art 13)."""
    profile = MediatorProfile.objects.filter(user=mediator).first()
    if profile is None:
        raise CaseError(_("%(name)s 不在调解员名册中，不能指定。") % {"name": mediator.display_name})
    reasons = assignment_refusals(profile, case)
    if reasons:
        raise CaseError(
            _("不能指定调解员 %(name)s：%(reasons)s。")
            % {"name": profile.display_name, "reasons": _("；").join(reasons)}
        )


# --- parties ---------------------------------------------------------------------------------


def party_side(case: Case, user: User) -> str | None:
    """Which party ``user`` acts for on ``case``: the consumer side, the institution, or neither."""
    if not user.is_authenticated or not user.is_active:
        return None
    if (
        user.role == Role.CONSUMER
        and case.participants.filter(
            user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
        ).exists()
    ):
        return CONSUMER_SIDE
    if user.role == Role.INSTITUTION_AGENT and user.has_perm(permissions.ANSWER, case):
        return INSTITUTION_SIDE
    return None


def side_of(user: User) -> str:
    """The side a stored choice, response or request belongs to (only parties ever store one)."""
    return CONSUMER_SIDE if user.role == Role.CONSUMER else INSTITUTION_SIDE


def _require_side(case: Case, user: User) -> str:
    side = party_side(case, user)
    if side is None:
        raise CaseError(_("只有本案当事人可以进行此操作。"))
    return side


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("institution", "centre").get(pk=case.pk)


def _notify_on_commit(recipients: Iterable[User], kind: str, message: str, case: Case) -> None:
    people = list(recipients)
    transaction.on_commit(lambda: notify(people, kind, message, case=case), robust=True)


def active_mediators(case: Case) -> list[CaseParticipant]:
    return list(
        case.participants.filter(removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES)
        .select_related("user")
        .order_by("-capacity", "joined_at", "id")  # the lead first
    )


# --- joint choice (在线调解规则 Art 10) ---------------------------------------------------------


def choice_open(case: Case, today: datetime.date | None = None) -> bool:
    """The parties may still choose: the case waits for a mediator and the 2-working-day clock runs."""
    if case.state != CaseState.CHOOSING_MEDIATOR:
        return False
    deadline = case.deadlines.filter(kind=ClockKind.PARTY_CHOICE, status=Deadline.Status.RUNNING).first()
    return deadline is not None and deadline.due_date >= (today or timezone.localdate())


def side_choices(case: Case) -> dict[str, int | None]:
    """Each side's pick (a mediator user id), or None while that side has not agreed on one.

    The consumer side has chosen when every consumer on the case picked the same mediator; the
    institution side keeps a single pick, the last made by any of its agents.
    """
    choices = list(PartyChoice.objects.filter(case=case).select_related("party"))
    consumers = {u.pk for u in audience.consumers(case)}
    consumer_picks = {c.party_id: c.mediator_id for c in choices if c.party_id in consumers}
    consumer_choice = None
    if consumers and set(consumer_picks) == consumers and len(set(consumer_picks.values())) == 1:
        consumer_choice = next(iter(consumer_picks.values()))
    institution = [c for c in choices if c.party.role == Role.INSTITUTION_AGENT]
    return {
        CONSUMER_SIDE: consumer_choice,
        INSTITUTION_SIDE: institution[-1].mediator_id if institution else None,
    }


def choose_mediator(case: Case, *, party: User, mediator: User, ip: str | None = None) -> PartyChoice:
    """Record ``party``'s pick; when both sides picked the same mediator, assign them (Art 10)."""
    with transaction.atomic():
        case = _lock(case)
        side = _require_side(case, party)
        if not choice_open(case):
            raise CaseError(_("共同选定调解员的期限已过或案件不在选定调解员阶段，将由调解中心指定。"))
        profile = MediatorProfile.objects.filter(user=mediator).first()
        if profile is None or assignment_refusals(profile, case):
            raise CaseError(_("请从本调解中心可选的调解员中选择。"))
        if side == INSTITUTION_SIDE:
            # The institution is one party: a new pick by any of its agents replaces the last one.
            PartyChoice.objects.filter(case=case, party__role=Role.INSTITUTION_AGENT).exclude(party=party).delete()
        choice, _created = PartyChoice.objects.update_or_create(case=case, party=party, defaults={"mediator": mediator})
        ledger.record(
            "mediators.choice.made", actor=party, case=case, ip=ip, data={"side": side, "mediator": mediator.pk}
        )
        picks = side_choices(case)
        if picks[CONSUMER_SIDE] is not None and picks[CONSUMER_SIDE] == picks[INSTITUTION_SIDE]:
            services.assign_mediator(case, actor=party, mediator=mediator, chosen_by_parties=True, ip=ip)
            _notify_on_commit(
                audience.both_sides(case),
                "mediators.choice.agreed",
                _("双方共同选定调解员 %(name)s，等待其接受委派。") % {"name": profile.display_name},
                case,
            )
        else:
            other = audience.institution_people(case) if side == CONSUMER_SIDE else audience.consumers(case)
            _notify_on_commit(
                other,
                "mediators.choice.made",
                _("对方当事人选择了调解员 %(name)s。如您同意，请选择同一位调解员。") % {"name": profile.display_name},
                case,
            )
    return choice


# --- disclosure (在线调解规则 Art 13) -----------------------------------------------------------


def _mediator_participant(case: Case, mediator: User) -> CaseParticipant:
    participant = case.participants.filter(
        user=mediator, removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES
    ).first()
    if participant is None:
        raise CaseError(_("您不是本案的调解员。"))
    return participant


def record_disclosure(
    case: Case, *, mediator: User, has_conflict: bool, text: str = "", ip: str | None = None
) -> Disclosure:
    """The mediator confirms no conflict, or discloses one, which the parties then see."""
    text = text.strip()
    if has_conflict and not text:
        raise CaseError(_("披露利益冲突时须说明具体情况。"))
    with transaction.atomic():
        case = _lock(case)
        _mediator_participant(case, mediator)
        if case.state not in CHANGE_STATES:
            raise CaseError(_("案件当前状态为「%(state)s」，无需声明。") % {"state": case.get_state_display()})
        disclosure = Disclosure.objects.create(case=case, mediator=mediator, has_conflict=has_conflict, text=text)
        ledger.record(
            "mediators.disclosure.made",
            actor=mediator,
            case=case,
            ip=ip,
            data={"disclosure": disclosure.pk, "has_conflict": has_conflict, "text": text},
        )
        if has_conflict:
            _notify_on_commit(
                audience.both_sides(case) + audience.case_managers(case),
                "mediators.disclosure.made",
                _("调解员 %(name)s 披露了可能影响公正的情况，请查看并选择同意其继续调解或申请更换。")
                % {"name": mediator.display_name},
                case,
            )
    return disclosure


def latest_disclosure(case: Case, mediator: User) -> Disclosure | None:
    return Disclosure.objects.filter(case=case, mediator=mediator).order_by("-created_at", "-id").first()


def responded_sides(disclosure: Disclosure) -> dict[str, DisclosureResponse]:
    return {side_of(r.party): r for r in disclosure.responses.select_related("party").order_by("created_at", "id")}


def disclosure_cleared(disclosure: Disclosure) -> bool:
    """No conflict, or every party agreed that the mediator continue (Art 13)."""
    if not disclosure.has_conflict:
        return True
    responses = responded_sides(disclosure)
    consumers = {u.pk for u in audience.consumers(disclosure.case)}
    consumer_continue = {
        r.party_id for r in disclosure.responses.all() if r.decision == DisclosureResponse.Decision.CONTINUE
    }
    institution = responses.get(INSTITUTION_SIDE)
    return (
        consumers <= consumer_continue
        and institution is not None
        and institution.decision == DisclosureResponse.Decision.CONTINUE
    )


def respond_to_disclosure(
    disclosure: Disclosure, *, party: User, decision: str, ip: str | None = None
) -> DisclosureResponse:
    """A party agrees that the mediator continue, or asks for a change (which files a request)."""
    if decision not in DisclosureResponse.Decision.values:
        raise CaseError(_("请选择同意继续或申请更换。"))
    with transaction.atomic():
        case = _lock(disclosure.case)
        side = _require_side(case, party)
        if not disclosure.has_conflict:
            raise CaseError(_("调解员未披露利益冲突，无需答复。"))
        if side == INSTITUTION_SIDE and INSTITUTION_SIDE in responded_sides(disclosure):
            raise CaseError(_("贵机构已对该披露作出答复。"))
        if disclosure.responses.filter(party=party).exists():
            raise CaseError(_("您已对该披露作出答复。"))
        _mediator_participant(case, disclosure.mediator)
        response = DisclosureResponse.objects.create(disclosure=disclosure, party=party, decision=decision)
        ledger.record(
            "mediators.disclosure.answered",
            actor=party,
            case=case,
            ip=ip,
            data={"disclosure": disclosure.pk, "side": side, "decision": decision},
        )
        if decision == DisclosureResponse.Decision.CHANGE:
            request_change(
                case,
                party=party,
                mediator=disclosure.mediator,
                reason=_("调解员披露了利益冲突：%(text)s") % {"text": disclosure.text},
                ip=ip,
            )
        elif disclosure_cleared(disclosure):
            _notify_on_commit(
                [disclosure.mediator],
                "mediators.disclosure.cleared",
                _("各方当事人同意您继续调解案件 %(number)s。") % {"number": case.number},
                case,
            )
    return response


def check_acceptance(case: Case, mediator: User) -> None:
    """Registered with the core: no acceptance, by any path, before neutrality is settled (Arts 12, 13)."""
    disclosure = latest_disclosure(case, mediator)
    if disclosure is None:
        raise CaseError(_("接受委派前，请先声明是否存在利益冲突。"))
    if ChangeRequest.objects.filter(case=case, mediator=mediator, status=ChangeRequest.Status.PENDING).exists():
        raise CaseError(_("当事人已申请更换调解员，请等待调解中心决定。"))
    if not disclosure_cleared(disclosure):
        raise CaseError(_("您披露了利益冲突，须各方当事人均同意后才能接受委派。"))


def accept_after_disclosure(case: Case, *, mediator: User, ip: str | None = None) -> Case:
    """Accept the appointment; the core runs check_acceptance first."""
    return services.mediator_accepts(case, mediator=mediator, ip=ip)


def confirm_no_conflict_and_accept(case: Case, *, mediator: User, ip: str | None = None) -> Disclosure:
    """One step for the common case: "no conflict", then acceptance; both or neither."""
    with transaction.atomic():
        disclosure = record_disclosure(case, mediator=mediator, has_conflict=False, ip=ip)
        accept_after_disclosure(case, mediator=mediator, ip=ip)
    return disclosure


# --- change requests (在线调解规则 Art 14) ------------------------------------------------------


def request_change(case: Case, *, party: User, mediator: User, reason: str, ip: str | None = None) -> ChangeRequest:
    reason = reason.strip()
    if not reason:
        raise CaseError(_("申请更换调解员须说明理由。"))
    with transaction.atomic():
        case = _lock(case)
        side = _require_side(case, party)
        if case.state not in CHANGE_STATES:
            raise CaseError(
                _("案件当前状态为「%(state)s」，不能申请更换调解员。") % {"state": case.get_state_display()}
            )
        _mediator_participant(case, mediator)
        if ChangeRequest.objects.filter(
            case=case, mediator=mediator, requested_by=party, status=ChangeRequest.Status.PENDING
        ).exists():
            raise CaseError(_("您已申请更换该调解员，请等待调解中心决定。"))
        change = ChangeRequest.objects.create(case=case, mediator=mediator, requested_by=party, reason=reason)
        ledger.record(
            "mediators.change.requested",
            actor=party,
            case=case,
            ip=ip,
            data={"change": change.pk, "side": side, "mediator": mediator.pk, "reason": reason},
        )
        _notify_on_commit(
            audience.case_managers(case),
            "mediators.change.requested",
            _("案件 %(number)s 的当事人申请更换调解员 %(name)s，请作出决定。")
            % {"number": case.number, "name": mediator.display_name},
            case,
        )
    return change


def decide_change(
    change: ChangeRequest, *, actor: User, grant: bool, note: str, ip: str | None = None
) -> ChangeRequest:
    """The centre grants or refuses; a grant takes the mediator off the case at once."""
    note = note.strip()
    if not note:
        raise CaseError(_("请填写决定说明。"))
    with transaction.atomic():
        case = _lock(change.case)
        if not actor.has_perm(permissions.MANAGE, case):
            raise CaseError(_("只有调解中心工作人员可以决定是否更换调解员。"))
        change = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if change.status != ChangeRequest.Status.PENDING:
            raise CaseError(_("该更换申请已处理。"))
        if case.is_final:
            raise CaseError(_("案件已结束，不能再更换调解员。"))
        now = timezone.now()
        # Both parties may have asked to change the same mediator: one decision settles both.
        settled = list(
            ChangeRequest.objects.select_for_update().filter(
                case=case, mediator_id=change.mediator_id, status=ChangeRequest.Status.PENDING
            )
        )
        if grant:
            if not case.participants.filter(
                user_id=change.mediator_id, removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES
            ).exists():
                raise CaseError(_("该调解员已不在本案中，无需更换。"))
            services.remove_mediator(
                case,
                actor=actor,
                mediator=change.mediator,
                reason=note,
                action="mediators.change.granted",
                ip=ip,
            )
        status = ChangeRequest.Status.GRANTED if grant else ChangeRequest.Status.REFUSED
        for request in settled:
            request.status = status
            request.decided_by = actor
            request.decided_at = now
            request.decision_note = note
            request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
            ledger.record(
                "mediators.change.decided",
                actor=actor,
                case=case,
                ip=ip,
                data={"change": request.pk, "mediator": request.mediator_id, "decision": status, "note": note},
            )
        message = (_("调解中心决定更换调解员：%(note)s") if grant else _("调解中心决定不更换调解员：%(note)s")) % {
            "note": note
        }
        _notify_on_commit(audience.both_sides(case), "mediators.change.decided", message, case)
    change.refresh_from_db()
    return change


def refused_mediator_ids(case: Case, side: str) -> set[int]:
    """Mediators this side asked to have changed on this case, whatever the centre decided."""
    requests = ChangeRequest.objects.filter(case=case).select_related("requested_by")
    return {r.mediator_id for r in requests if side_of(r.requested_by) == side}


def refused_every_choice(case: Case, party: User) -> bool:
    """The party has refused every mediator the centre could still offer for this case.

    "A party who refuses every choice is recorded as refusing mediation" (Art 25(4)): true once
    the party asked for a change and no eligible mediator of the centre is left that its side has
    not already refused.
    """
    refused = refused_mediator_ids(case, side_of(party))
    if not refused:
        return False
    return all(profile.user_id in refused for profile in eligible_mediators(case))


def terminate_for_refusal(case: Case, *, actor: User, party: User, ip: str | None = None) -> Case:
    """在线调解规则 Art 25: the party refused every mediator, so mediation ends as refused."""
    with transaction.atomic():
        case = _lock(case)
        if not actor.has_perm(permissions.MANAGE, case):
            raise CaseError(_("只有调解中心工作人员可以终止调解。"))
        if not refused_every_choice(case, party):
            raise CaseError(_("尚有该当事人未拒绝的调解员，不能以拒绝调解为由终止。"))
        ledger.record(
            "mediators.party.refused_every_choice",
            actor=actor,
            case=case,
            ip=ip,
            data={
                "party": party.pk,
                "side": side_of(party),
                "refused": sorted(refused_mediator_ids(case, side_of(party))),
            },
        )
        return services.terminate_mediation(
            case,
            actor=actor,
            reason=TerminationReason.REFUSED,
            note=_("%(party)s 拒绝了调解中心可选的全部调解员。") % {"party": party.display_name},
            ip=ip,
        )
