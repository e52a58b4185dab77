"""Which mediator for this case: a ranked list of the centre's eligible mediators, with reasons.

Eligible means what the pool's rules say may be assigned (``roster.assignable_profiles``: active,
valid certificate), not excluded by a conflict (``neutrality``), not already on or previously
removed from this case, and with room under their maximum caseload. Excluded mediators are never
listed; the case manager may still assign someone else through the services, whose own checks apply.

Every eligible mediator gets points for each criterion of the issue, and every point comes with a
sentence saying why (the page shows them). The points, highest possible first:

============================  ======  ==========================================================
criterion                     points  rule
============================  ======  ==========================================================
expertise                     40/30/10  the case's exact issue type / the whole product category /
                                      another issue type of the same category
current load                  0–20    20 × free share of ``max_caseload`` (open cases: awaiting
                                      acceptance or mediating); a full mediator is not listed
language                      15      speaks the dialect of the case's region (``REGION_DIALECTS``)
availability                  0–15    15 × share of the next 10 working days not marked unavailable
past outcomes                 0–15    15 × share of concluded cases that reached agreement; 7 when
                                      the mediator has no concluded case yet
same region                   10/6    same region string / same province (first two characters)
party ratings                 0–10    10 × (average − 1) / 4; 5 when not yet rated
============================  ======  ==========================================================

The case's region is the complained-about institution's (the branch the consumer dealt with), else
the centre's: the case records no address of the consumer and no language need, so the dialect a
consumer is likely to prefer is read from that region. Ties go to the lower profile id, so the same
data always gives the same order.

The cost is a fixed number of SQL queries whatever the size of the pool: one per criterion, each an
aggregate over the whole centre, never one per mediator. Every mediator is scored from numbers;
the sentences and the full profiles are produced only for the ``limit`` that are listed.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation.classification import issue_type_label
from mediation.clocks import WorkingCalendar
from mediation.models import Case, CaseParticipant, CaseState, User
from mediators import neutrality, roster
from mediators.models import Expertise, Language, MediatorLanguage, MediatorProfile, Rating, Unavailability

EXPERTISE_ISSUE_POINTS = 40
EXPERTISE_CATEGORY_POINTS = 30
EXPERTISE_RELATED_POINTS = 10
EXPERTISE_POINTS = {
    "expertise_issue": EXPERTISE_ISSUE_POINTS,
    "expertise_category": EXPERTISE_CATEGORY_POINTS,
    "expertise_related": EXPERTISE_RELATED_POINTS,
}
LOAD_POINTS = 20
LANGUAGE_POINTS = 15
AVAILABILITY_POINTS = 15
OUTCOME_POINTS = 15
SAME_REGION_POINTS = 10
SAME_PROVINCE_POINTS = 6
RATING_POINTS = 10

AVAILABILITY_WINDOW_WORKING_DAYS = 10

# The dialect a consumer from a region most likely prefers, checked in order (a city before its
# province: 梅州 in 广东 is Hakka country). Mandarin is assumed of every mediator and earns nothing.
REGION_DIALECTS: tuple[tuple[str, str], ...] = (
    ("梅州", Language.HAKKA),
    ("广东", Language.CANTONESE),
    ("香港", Language.CANTONESE),
    ("澳门", Language.CANTONESE),
    ("福建", Language.MINNAN),
    ("上海", Language.WU),
    ("浙江", Language.WU),
)

MEDIATOR_CAPACITIES = [CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR]
OPEN_STATES = [CaseState.AWAITING_MEDIATOR, CaseState.MEDIATING]
# Mediation reached agreement: the agreement took effect, whatever happened to it afterwards.
AGREED_STATES = [
    CaseState.AGREEMENT_EFFECTIVE,
    CaseState.CONFIRMATION_APPLIED,
    CaseState.CONFIRMED,
    CaseState.CONFIRMATION_REJECTED,
    CaseState.PERFORMING,
]


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    points: int


@dataclass(frozen=True)
class Recommendation:
    profile: MediatorProfile
    score: int
    reasons: list[Reason] = field(default_factory=list)
    load: int = 0
    available_days: int = 0

    @property
    def user(self) -> User:
        return self.profile.user


def dialect_for_region(region: str) -> str | None:
    for place, language in REGION_DIALECTS:
        if place in region:
            return language
    return None


def case_region(case: Case) -> str:
    return case.institution.region or case.centre.region


def next_working_days(on: datetime.date, count: int, calendar: WorkingCalendar) -> list[datetime.date]:
    """The ``count`` working days after ``on`` (``on`` itself is not counted)."""
    days: list[datetime.date] = []
    day = on
    while len(days) < count:
        day += datetime.timedelta(days=1)
        if calendar.is_workday(day)[0]:
            days.append(day)
    return days


@dataclass
class _History:
    load: int = 0
    agreed: int = 0
    terminated: int = 0

    @property
    def concluded(self) -> int:
        return self.agreed + self.terminated


def _histories(centre_id: int) -> dict[int, _History]:
    """Open load and concluded outcomes per mediator user, in one aggregate query.

    Counted over the centre's cases (a mediator serves one centre), which lets SQLite start from
    the case index instead of scanning every participation. No DISTINCT: the services never put
    the same person on a case twice as mediator, and it doubles the cost on large histories.
    """
    agreed = Q(case__state__in=AGREED_STATES) | Q(
        case__state=CaseState.CLOSED, case__agreement_effective_at__isnull=False
    )
    rows = (
        CaseParticipant.objects.filter(
            capacity__in=MEDIATOR_CAPACITIES, removed_at__isnull=True, case__centre_id=centre_id
        )
        .values("user_id")
        .annotate(
            load=Count("case", filter=Q(case__state__in=OPEN_STATES)),
            agreed=Count("case", filter=agreed),
            terminated=Count("case", filter=Q(case__state=CaseState.TERMINATED)),
        )
        .order_by()
    )
    return {row["user_id"]: _History(row["load"], row["agreed"], row["terminated"]) for row in rows}


def _unavailable_days(centre_id: int, window: list[datetime.date]) -> dict[int, int]:
    """Working days of ``window`` each profile marked unavailable (overlapping ranges count once)."""
    days: dict[int, set[datetime.date]] = defaultdict(set)
    ranges = Unavailability.objects.filter(
        profile__centre_id=centre_id, start_date__lte=window[-1], end_date__gte=window[0]
    ).values_list("profile_id", "start_date", "end_date")
    for profile_id, start, end in ranges:
        days[profile_id].update(day for day in window if start <= day <= end)
    return {profile_id: len(blocked) for profile_id, blocked in days.items()}


def _expertise_match(case: Case, centre_id: int) -> dict[int, str]:
    """Per profile, its best expertise code for the case: exact issue, whole category, related."""
    issues: dict[int, set[str]] = defaultdict(set)
    for profile_id, issue in Expertise.objects.filter(
        profile__centre_id=centre_id, product_category=case.product_category
    ).values_list("profile_id", "issue_type"):
        issues[profile_id].add(issue)
    matches = {}
    for profile_id, found in issues.items():
        if case.issue_type in found:
            matches[profile_id] = "expertise_issue"
        elif "" in found:
            matches[profile_id] = "expertise_category"
        else:
            matches[profile_id] = "expertise_related"
    return matches


def _region_match(mediator_region: str, region: str) -> str | None:
    if not mediator_region or not region:
        return None
    if mediator_region == region:
        return "region"
    if mediator_region[:2] == region[:2]:
        return "province"
    return None


@dataclass(frozen=True)
class _Facts:
    """What one mediator's score is computed from; the sentences are written only for the top."""

    profile_id: int
    max_caseload: int
    history: _History
    available: int
    window: int
    expertise: str | None
    speaks_dialect: bool
    region: str | None
    rating: tuple[float, int] | None

    def points(self) -> list[tuple[str, int]]:
        parts: list[tuple[str, int]] = []
        if self.expertise is not None:
            parts.append((self.expertise, EXPERTISE_POINTS[self.expertise]))
        free_share = (self.max_caseload - self.history.load) / self.max_caseload
        parts.append(("load", round(LOAD_POINTS * free_share)))
        if self.speaks_dialect:
            parts.append(("language", LANGUAGE_POINTS))
        parts.append(("availability", round(AVAILABILITY_POINTS * self.available / self.window)))
        concluded = self.history.concluded
        parts.append(
            ("outcomes", round(OUTCOME_POINTS * self.history.agreed / concluded) if concluded else OUTCOME_POINTS // 2)
        )
        if self.region is not None:
            parts.append((self.region, SAME_REGION_POINTS if self.region == "region" else SAME_PROVINCE_POINTS))
        if self.rating is not None:
            parts.append(("rating", round(RATING_POINTS * (self.rating[0] - 1) / 4)))
        else:
            parts.append(("rating", RATING_POINTS // 2))
        return parts


def _reason_text(code: str, facts: _Facts, case: Case, region: str, dialect: str | None) -> str:
    history = facts.history
    if code == "expertise_issue":
        return _("擅长本案问题类型：%(issue)s") % {"issue": issue_type_label(case.product_category, case.issue_type)}
    if code == "expertise_category":
        return _("擅长本案产品类别：%(category)s") % {"category": case.get_product_category_display()}
    if code == "expertise_related":
        return _("擅长同一产品类别的其他问题")
    if code == "load":
        return _("当前承办 %(load)s 件，上限 %(max)s 件") % {"load": history.load, "max": facts.max_caseload}
    if code == "language" and dialect is not None:
        return _("会说本案地区方言：%(language)s") % {"language": Language(dialect).label}
    if code == "availability":
        return _("未来 %(window)s 个工作日中可安排 %(days)s 日") % {"window": facts.window, "days": facts.available}
    if code == "outcomes":
        if not history.concluded:
            return _("尚无办结案件，按中等计分")
        return _("调解成功率 %(rate)s%%（%(agreed)s/%(concluded)s 件达成协议）") % {
            "rate": round(100 * history.agreed / history.concluded),
            "agreed": history.agreed,
            "concluded": history.concluded,
        }
    if code == "region":
        return _("与本案同一地区：%(region)s") % {"region": region}
    if code == "province":
        return _("与本案同一省份：%(province)s") % {"province": region[:2]}
    if facts.rating is None:
        return _("尚无当事人评分，按中等计分")
    return _("当事人平均评分 %(average)s（%(count)s 条）") % {
        "average": f"{facts.rating[0]:.1f}",
        "count": facts.rating[1],
    }


def recommend(case: Case, *, on: datetime.date | None = None, limit: int = 20) -> list[Recommendation]:
    """The best ``limit`` eligible mediators of the case's centre for ``case``, best first."""
    on = on or timezone.localdate()
    centre_id = case.centre_id
    region = case_region(case)
    dialect = dialect_for_region(region)

    # Only what ranking needs is loaded for the whole pool; the top ``limit`` are fetched in full.
    profiles = list(
        roster.assignable_profiles(case.centre, on).only("pk", "user_id", "max_caseload", "region").order_by("pk")
    )
    # Mediators already on the case, or who left it (declined, recused, went silent, were
    # changed at a party's request), are not offered for it again.
    been_on_case = set(
        CaseParticipant.objects.filter(case=case, capacity__in=MEDIATOR_CAPACITIES).values_list("user_id", flat=True)
    )
    profiles = [p for p in profiles if p.user_id not in been_on_case]
    excluded = neutrality.excluded_profile_ids(profiles, case, on)
    histories = _histories(centre_id)
    expertise = _expertise_match(case, centre_id)
    speakers: set[int] = set()
    if dialect is not None:
        speakers = set(
            MediatorLanguage.objects.filter(profile__centre_id=centre_id, language=dialect).values_list(
                "profile_id", flat=True
            )
        )
    ratings = {
        row["mediator_id"]: (float(row["average"]), row["count"])
        for row in Rating.objects.filter(mediator__mediator_profile__centre_id=centre_id)
        .values("mediator_id")
        .annotate(average=Avg("score"), count=Count("id"))
        .order_by()
    }
    window = next_working_days(on, AVAILABILITY_WINDOW_WORKING_DAYS, WorkingCalendar())
    unavailable = _unavailable_days(centre_id, window)

    scored: list[tuple[int, int, _Facts, list[tuple[str, int]]]] = []
    for profile in profiles:
        history = histories.get(profile.user_id, _History())
        if profile.pk in excluded or history.load >= profile.max_caseload:
            continue
        facts = _Facts(
            profile_id=profile.pk,
            max_caseload=profile.max_caseload,
            history=history,
            available=len(window) - unavailable.get(profile.pk, 0),
            window=len(window),
            expertise=expertise.get(profile.pk),
            speaks_dialect=profile.pk in speakers,
            region=_region_match(profile.region, region),
            rating=ratings.get(profile.user_id),
        )
        parts = facts.points()
        scored.append((-sum(points for _code, points in parts), profile.pk, facts, parts))
    scored.sort(key=lambda item: (item[0], item[1]))
    top = scored[:limit]
    full = MediatorProfile.objects.select_related("user").in_bulk([profile_id for _s, profile_id, _f, _p in top])
    return [
        Recommendation(
            profile=full[profile_id],
            score=-negative_score,
            reasons=[Reason(code, _reason_text(code, facts, case, region, dialect), points) for code, points in parts],
            load=facts.history.load,
            available_days=facts.available,
        )
        for negative_score, profile_id, facts, parts in top
    ]
