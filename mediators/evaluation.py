"""Evaluation of mediators: party ratings after the case ends, complaints, per-mediator figures.

Ratings and complaints follow the services pattern (transaction, case row locked, guard, ledger
entry, notifications after commit) and raise ``mediation.services.CaseError``. Views decide who
reaches a case (``mediation.permissions``); these functions decide what the rules allow.
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import audience, ledger
from mediation.clocks import WorkingCalendar
from mediation.models import Case, CaseParticipant, CaseState, CaseTransition, Role, User
from mediation.notifications import notify
from mediation.services import CaseError
from mediators import neutrality
from mediators.caseload import MEDIATOR_CAPACITIES, profile_of
from mediators.models import MediatorComplaint, MediatorProfile, Rating

# Parties rate once mediation is over, whichever way it ended.
RATABLE_STATES = {CaseState.CLOSED, CaseState.TERMINATED}


def party_side(user: User, case: Case) -> str | None:
    """Which side of the dispute ``user`` speaks for on ``case`` (the neutrality rules' answer).

    The consumer is a participant; the institution speaks through its agents holding ANSWER.
    Mediators and centre staff see the case but are not parties, so they neither rate nor complain.
    """
    return neutrality.party_side(case, user)


def _mediation_took_place(case: Case) -> bool:
    return CaseTransition.objects.filter(case=case, to_state=CaseState.MEDIATING).exists()


def mediators_who_served(case: Case) -> list[User]:
    """The mediators on the case when mediation ended, if mediation ever started.

    A mediator taken off earlier (recusal, silence, a granted change) did not conduct the
    mediation the parties are rating; a case that ended before any mediator accepted has nobody.
    """
    if not _mediation_took_place(case):
        return []
    return [
        p.user
        for p in case.participants.filter(removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES)
        .select_related("user")
        .order_by("-capacity", "joined_at", "id")
    ]


def mediators_ever_on(case: Case) -> list[User]:
    """Every mediator who was ever assigned to the case, removed ones included (complaints)."""
    seen: dict[int, User] = {}
    for participation in (
        case.participants.filter(capacity__in=MEDIATOR_CAPACITIES).select_related("user").order_by("joined_at", "id")
    ):
        seen.setdefault(participation.user_id, participation.user)
    return list(seen.values())


def _side_ratings(case: Case, side: str, party: User) -> QuerySet[Rating]:
    # The institution rates once as a side, whichever of its agents does it: otherwise a bank
    # with ten agents would outweigh the consumer's single voice in the mediator's average.
    ratings = Rating.objects.filter(case=case)
    if side == neutrality.INSTITUTION_SIDE:
        return ratings.filter(party__role=Role.INSTITUTION_AGENT)
    return ratings.filter(party=party)


def mediators_left_to_rate(case: Case, party: User) -> list[User]:
    side = party_side(party, case)
    if side is None or case.state not in RATABLE_STATES:
        return []
    rated = set(_side_ratings(case, side, party).values_list("mediator_id", flat=True))
    return [m for m in mediators_who_served(case) if m.pk not in rated]


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("centre").get(pk=case.pk)


def rate_mediator(
    case: Case, *, party: User, mediator: User, score: int, comment: str = "", ip: str | None = None
) -> Rating:
    """A party's 1–5 rating of a mediator who served on the case, once per side and mediator."""
    if not 1 <= score <= 5:
        raise CaseError(_("评分应在1至5分之间。"))
    with transaction.atomic():
        case = _lock(case)
        side = party_side(party, case)
        if side is None:
            raise CaseError(_("只有本案当事人可以评价调解员。"))
        if case.state not in RATABLE_STATES:
            raise CaseError(_("案件结案或调解终止后方可评价调解员。"))
        if mediator.pk not in {m.pk for m in mediators_who_served(case)}:
            raise CaseError(_("该调解员未主持本案调解。"))
        # The case row lock serialises a double submit, so the second one sees the first here.
        if _side_ratings(case, side, party).filter(mediator=mediator).exists():
            raise CaseError(_("您已评价过该调解员。"))
        rating = Rating.objects.create(case=case, mediator=mediator, party=party, score=score, comment=comment.strip())
        ledger.record(
            "mediators.rating.recorded",
            actor=party,
            case=case,
            ip=ip,
            data={"rating": rating.pk, "mediator": mediator.pk, "side": side, "score": score},
        )
    return rating


def file_complaint(
    case: Case, *, party: User, mediator: User, ground: str, text: str, ip: str | None = None
) -> MediatorComplaint:
    """A party complains about a mediator's conduct on the case (在线调解规则 Art 29), at any time.

    The mediator is told that a complaint was filed, on which ground and on which case, but not
    by whom: a mediator still conducting the case must not learn which side complained.
    """
    if ground not in MediatorComplaint.Ground.values:
        raise CaseError(_("请选择投诉事由。"))
    if not text.strip():
        raise CaseError(_("请说明投诉的具体情况。"))
    with transaction.atomic():
        case = _lock(case)
        if party_side(party, case) is None:
            raise CaseError(_("只有本案当事人可以投诉调解员。"))
        if mediator.pk not in {m.pk for m in mediators_ever_on(case)}:
            raise CaseError(_("该调解员未参与本案调解。"))
        complaint = MediatorComplaint.objects.create(
            mediator=mediator, case=case, filed_by=party, ground=ground, text=text.strip()
        )
        ledger.record(
            "mediators.complaint.filed",
            actor=party,
            case=case,
            ip=ip,
            data={"complaint": complaint.pk, "mediator": mediator.pk, "ground": ground},
        )
        ground_label = MediatorComplaint.Ground(ground).label
        managers = audience.case_managers(case)
        number = case.number
        transaction.on_commit(
            lambda: notify(
                managers,
                "mediators.complaint.filed",
                _("案件 %(number)s 的当事人投诉调解员 %(name)s：%(ground)s，请及时处理。")
                % {"number": number, "name": mediator.display_name, "ground": ground_label},
                case=case,
            ),
            robust=True,
        )
        transaction.on_commit(
            lambda: notify(
                [mediator],
                "mediators.complaint.filed",
                _("调解中心收到一件关于您在案件 %(number)s 中的投诉，事由：%(ground)s。调解中心将依规处理。")
                % {"number": number, "ground": ground_label},
                case=case,
            ),
            robust=True,
        )
    return complaint


def decide_complaint(
    complaint: MediatorComplaint, *, actor: User, upheld: bool, resolution: str, ip: str | None = None
) -> MediatorComplaint:
    """The centre's decision on a complaint, with its reasons; the complainant and mediator are told."""
    if not resolution.strip():
        raise CaseError(_("请填写处理结果及理由。"))
    with transaction.atomic():
        if complaint.case_id is not None:
            # Lock order of the services: the case first, then what hangs off it.
            Case.objects.select_for_update().filter(pk=complaint.case_id).first()
        complaint = (
            MediatorComplaint.objects.select_for_update(of=("self",))
            .select_related("case", "mediator")
            .get(pk=complaint.pk)
        )
        if complaint.status != MediatorComplaint.Status.OPEN:
            raise CaseError(_("该投诉已处理完毕。"))
        complaint.status = MediatorComplaint.Status.UPHELD if upheld else MediatorComplaint.Status.DISMISSED
        complaint.handled_by = actor
        complaint.handled_at = timezone.now()
        complaint.resolution = resolution.strip()
        complaint.save(update_fields=["status", "handled_by", "handled_at", "resolution"])
        ledger.record(
            "mediators.complaint.decided",
            actor=actor,
            case=complaint.case,
            ip=ip,
            data={"complaint": complaint.pk, "status": complaint.status, "resolution": complaint.resolution},
        )
        values = {
            "number": complaint.case.number if complaint.case else "—",
            "status": complaint.get_status_display(),
            "resolution": complaint.resolution,
        }
        complainant, mediator, case = complaint.filed_by, complaint.mediator, complaint.case
        transaction.on_commit(
            lambda: notify(
                [complainant],
                "mediators.complaint.decided",
                _("您就案件 %(number)s 对调解员的投诉已处理：%(status)s。%(resolution)s") % values,
                case=case,
            ),
            robust=True,
        )
        transaction.on_commit(
            lambda: notify(
                [mediator],
                "mediators.complaint.decided",
                # The resolution text may describe the complainant's account; the mediator learns
                # the outcome and asks the centre for the rest.
                _("关于您在案件 %(number)s 中的投诉已处理：%(status)s。详情请向调解中心了解。") % values,
                case=case,
            ),
            robust=True,
        )
    return complaint


# --- figures ---------------------------------------------------------------------------------


@dataclass
class MediatorFigures:
    mediator: User
    profile: MediatorProfile | None
    handled: int = 0
    agreements: int = 0
    terminated: int = 0
    working_days: list[int] = field(default_factory=list)
    rating_average: float | None = None
    rating_count: int = 0
    complaints_open: int = 0
    complaints_upheld: int = 0
    complaints_total: int = 0

    @property
    def name(self) -> str:
        return self.profile.display_name if self.profile else self.mediator.display_name

    @property
    def centre_name(self) -> str:
        if self.profile is not None:
            return self.profile.centre.name
        return self.mediator.organisation.name if self.mediator.organisation else ""

    @property
    def finished(self) -> int:
        return self.agreements + self.terminated

    @property
    def success_rate(self) -> float | None:
        """Agreements among finished mediations (agreement reached or terminated)."""
        return self.agreements / self.finished if self.finished else None

    @property
    def median_working_days(self) -> float | None:
        return statistics.median(self.working_days) if self.working_days else None


def _local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localdate(moment)


def mediator_figures(mediators: QuerySet[User], calendar: WorkingCalendar | None = None) -> list[MediatorFigures]:
    """Cases, outcomes, working days to finish, ratings and complaints for each mediator.

    Four queries for any number of mediators (plus two for the calendar): the mediators, their
    (mediator, case) pairs with the acceptance and termination times as subqueries, and the
    ratings and complaints grouped by mediator.

    A case counts for a mediator who was on it when it ended (or is on it now) and once a
    mediator accepted it; the working days run from the last acceptance (transition to
    MEDIATING) to the agreement taking effect or mediation being terminated.
    """
    calendar = calendar or WorkingCalendar()
    figures = {m.pk: MediatorFigures(m, profile_of(m)) for m in mediators.select_related("mediator_profile__centre")}
    ids = list(figures)
    if not ids:
        return []
    accepted = CaseTransition.objects.filter(case=OuterRef("case"), to_state=CaseState.MEDIATING).order_by("-at", "-id")
    terminated = CaseTransition.objects.filter(case=OuterRef("case"), to_state=CaseState.TERMINATED).order_by(
        "-at", "-id"
    )
    pairs = (
        CaseParticipant.objects.filter(user_id__in=ids, removed_at__isnull=True, capacity__in=MEDIATOR_CAPACITIES)
        .filter(Exists(CaseTransition.objects.filter(case=OuterRef("case"), to_state=CaseState.MEDIATING)))
        .annotate(accepted_at=Subquery(accepted.values("at")[:1]), terminated_at=Subquery(terminated.values("at")[:1]))
        .values_list(
            "user_id", "case_id", "case__state", "case__agreement_effective_at", "accepted_at", "terminated_at"
        )
        .order_by()
    )
    seen: set[tuple[int, int]] = set()
    for user_id, case_id, state, agreement_at, accepted_at, terminated_at in pairs:
        if (user_id, case_id) in seen:
            continue
        seen.add((user_id, case_id))
        row = figures[user_id]
        row.handled += 1
        ended_at = None
        if agreement_at is not None:
            row.agreements += 1
            ended_at = agreement_at
        elif state == CaseState.TERMINATED:
            row.terminated += 1
            ended_at = terminated_at
        if ended_at is not None and accepted_at is not None:
            days = calendar.working_days_between(_local_date(accepted_at), _local_date(ended_at))
            row.working_days.append(max(days, 0))
    ratings = Rating.objects.filter(mediator_id__in=ids).values("mediator_id").annotate(avg=Avg("score"), n=Count("id"))
    for item in ratings.order_by():
        row = figures[item["mediator_id"]]
        row.rating_average, row.rating_count = item["avg"], item["n"]
    complaints = (
        MediatorComplaint.objects.filter(mediator_id__in=ids)
        .values("mediator_id")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(status=MediatorComplaint.Status.OPEN)),
            upheld=Count("id", filter=Q(status=MediatorComplaint.Status.UPHELD)),
        )
        .order_by()
    )
    for item in complaints:
        row = figures[item["mediator_id"]]
        row.complaints_total, row.complaints_open, row.complaints_upheld = item["total"], item["open"], item["upheld"]
    return sorted(figures.values(), key=lambda f: (f.centre_name, f.name, f.mediator.pk))


def complaints_for_centre(centre_id: int) -> QuerySet[MediatorComplaint]:
    """The complaints a centre handles: those about its cases, or about its mediators without a case."""
    return MediatorComplaint.objects.filter(
        Q(case__centre_id=centre_id)
        | Q(case__isnull=True, mediator__organisation_id=centre_id)
        | Q(case__isnull=True, mediator__mediator_profile__centre_id=centre_id)
    ).distinct()
