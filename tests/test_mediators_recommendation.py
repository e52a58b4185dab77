"""The recommendation: who is listed, in which order, why, and at what cost in queries."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mediation.models import Case, CaseParticipant, CaseState, Organisation, Role, User
from mediators.models import (
    DeclaredRelationship,
    Expertise,
    Language,
    MediatorLanguage,
    MediatorProfile,
    Qualification,
    Rating,
    Unavailability,
)
from mediators.recommendation import dialect_for_region, next_working_days, recommend
from tests import factories

# A Monday; the 10 working days after it are 3–6, 9–13 and 16 March 2026 (no holiday in between).
ON = datetime.date(2026, 3, 2)
_serial = itertools.count(1)


def make_profile(
    centre: Organisation,
    name: str | None = None,
    *,
    user: User | None = None,
    expertise: tuple[tuple[str, str], ...] = (),
    languages: tuple[str, ...] = (Language.MANDARIN,),
    certificate_expires: datetime.date | None = None,
    **fields: Any,
) -> MediatorProfile:
    """A mediator of ``centre`` with a profile; assignable unless told otherwise."""
    if user is None:
        name = name or f"pool_mediator_{next(_serial)}"
        user = factories.user(name, Role.MEDIATOR, centre, real_name=name)
    fields.setdefault("display_name", user.real_name or user.username)
    fields.setdefault("employment", MediatorProfile.Employment.FULL_TIME)
    fields.setdefault("region", "浙江省杭州市")
    profile = MediatorProfile.objects.create(user=user, centre=centre, **fields)
    Qualification.objects.create(profile=profile, name="人民调解员资格证书", expires_on=certificate_expires)
    Expertise.objects.bulk_create([Expertise(profile=profile, product_category=c, issue_type=i) for c, i in expertise])
    MediatorLanguage.objects.bulk_create([MediatorLanguage(profile=profile, language=code) for code in languages])
    return profile


def past_case(make_case: Callable[..., Case], profile: MediatorProfile, state: str, **fields: Any) -> Case:
    """A case the mediator carried, put straight into ``state`` (history, not a lifecycle under test)."""
    case = make_case()
    Case.objects.filter(pk=case.pk).update(state=state, **fields)
    CaseParticipant.objects.create(case=case, user=profile.user, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR)
    return case


def ranked(case: Case, **kwargs: Any) -> list[str]:
    return [item.profile.display_name for item in recommend(case, on=ON, **kwargs)]


def reasons_of(case: Case, name: str) -> dict[str, int]:
    for item in recommend(case, on=ON):
        if item.profile.display_name == name:
            return {reason.code: reason.points for reason in item.reasons}
    raise AssertionError(f"{name} not recommended")


@pytest.fixture
def case(make_case: Callable[..., Case]) -> Case:
    """A credit-card interest dispute against a bank in 广州 (the bank fixture's region)."""
    return make_case(product_category="credit_card", issue_type="interest_fees")


def test_exact_issue_expertise_ranks_above_category_above_related_above_none(case: Case, centre: Organisation) -> None:
    make_profile(centre, "none")
    make_profile(centre, "related", expertise=(("credit_card", "instalment"),))
    make_profile(centre, "category", expertise=(("credit_card", ""),))
    make_profile(centre, "exact", expertise=(("credit_card", "interest_fees"),))
    make_profile(centre, "other_category", expertise=(("mortgage", ""),))

    assert ranked(case)[:3] == ["exact", "category", "related"]
    assert reasons_of(case, "exact")["expertise_issue"] == 40
    assert reasons_of(case, "category")["expertise_category"] == 30
    assert reasons_of(case, "related")["expertise_related"] == 10
    assert not any(code.startswith("expertise") for code in reasons_of(case, "other_category"))


def test_every_reason_is_a_sentence_and_the_score_is_their_sum(case: Case, centre: Organisation) -> None:
    make_profile(centre, "吴调解员", expertise=(("credit_card", "interest_fees"),))

    [item] = recommend(case, on=ON)

    assert item.score == sum(reason.points for reason in item.reasons)
    assert {reason.code for reason in item.reasons} >= {"expertise_issue", "load", "availability", "outcomes", "rating"}
    assert "利息、违约金及费用" in next(r.text for r in item.reasons if r.code == "expertise_issue")
    assert item.user == item.profile.user


def test_mediator_at_full_caseload_is_not_listed(
    case: Case, centre: Organisation, make_case: Callable[..., Case]
) -> None:
    full = make_profile(centre, "full", max_caseload=2)
    room = make_profile(centre, "room", max_caseload=2)
    past_case(make_case, full, CaseState.MEDIATING)
    past_case(make_case, full, CaseState.AWAITING_MEDIATOR)
    past_case(make_case, room, CaseState.MEDIATING)

    assert ranked(case) == ["room"]
    [item] = recommend(case, on=ON)
    assert item.load == 1
    assert reasons_of(case, "room")["load"] == 10


def test_closed_and_removed_participations_do_not_count_as_load(
    case: Case, centre: Organisation, make_case: Callable[..., Case]
) -> None:
    profile = make_profile(centre, "busy_once", max_caseload=1)
    past_case(make_case, profile, CaseState.CLOSED)
    left = past_case(make_case, profile, CaseState.MEDIATING)
    CaseParticipant.objects.filter(case=left).update(removed_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC))

    [item] = recommend(case, on=ON)
    assert item.load == 0


def test_unavailable_working_days_lower_the_score(case: Case, centre: Organisation) -> None:
    free = make_profile(centre, "free")
    away = make_profile(centre, "away")
    # 9–15 March: five working days and a weekend inside the window.
    Unavailability.objects.create(
        profile=away, start_date=datetime.date(2026, 3, 9), end_date=datetime.date(2026, 3, 15)
    )
    # Overlapping range: the days count once.
    Unavailability.objects.create(
        profile=away, start_date=datetime.date(2026, 3, 12), end_date=datetime.date(2026, 3, 13)
    )
    # Outside the window: no effect.
    Unavailability.objects.create(
        profile=free, start_date=datetime.date(2026, 4, 1), end_date=datetime.date(2026, 4, 30)
    )

    assert ranked(case) == ["free", "away"]
    by_name = {item.profile.display_name: item for item in recommend(case, on=ON)}
    assert by_name["free"].available_days == 10
    assert by_name["away"].available_days == 5
    assert reasons_of(case, "free")["availability"] == 15
    assert reasons_of(case, "away")["availability"] == 8  # round(15 × 5 / 10), banker's rounding


def test_window_is_ten_working_days_skipping_weekends() -> None:
    from mediation.clocks import WorkingCalendar

    days = next_working_days(ON, 10, WorkingCalendar(loaded={}))
    assert days[0] == datetime.date(2026, 3, 3)
    assert days[-1] == datetime.date(2026, 3, 16)
    assert all(day.weekday() < 5 for day in days)


def test_better_past_outcomes_rank_higher(case: Case, centre: Organisation, make_case: Callable[..., Case]) -> None:
    winner = make_profile(centre, "winner")
    loser = make_profile(centre, "loser")
    past_case(make_case, winner, CaseState.CONFIRMED)
    past_case(
        make_case, winner, CaseState.CLOSED, agreement_effective_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    )
    past_case(make_case, winner, CaseState.TERMINATED)
    past_case(make_case, loser, CaseState.TERMINATED)
    past_case(make_case, loser, CaseState.TERMINATED)
    # Closed without any agreement (e.g. resolved by the institution's answer) is not an outcome.
    past_case(make_case, loser, CaseState.CLOSED)

    assert ranked(case) == ["winner", "loser"]
    assert reasons_of(case, "winner")["outcomes"] == 10  # 2 of 3 agreed
    assert reasons_of(case, "loser")["outcomes"] == 0


def test_mediator_without_history_gets_the_middle_outcome_and_rating_points(case: Case, centre: Organisation) -> None:
    make_profile(centre, "newcomer")

    reasons = reasons_of(case, "newcomer")

    assert reasons["outcomes"] == 7
    assert reasons["rating"] == 5


def test_higher_party_ratings_rank_higher(
    case: Case, centre: Organisation, make_case: Callable[..., Case], consumer: User, other_consumer: User
) -> None:
    liked = make_profile(centre, "liked")
    disliked = make_profile(centre, "disliked")
    for profile, scores in ((liked, (5, 5)), (disliked, (2, 1))):
        rated = past_case(make_case, profile, CaseState.CLOSED)
        for party, score in zip((consumer, other_consumer), scores, strict=True):
            Rating.objects.create(case=rated, mediator=profile.user, party=party, score=score)

    assert ranked(case) == ["liked", "disliked"]
    assert reasons_of(case, "liked")["rating"] == 10
    assert reasons_of(case, "disliked")["rating"] == 1  # average 1.5


def test_dialect_of_the_case_region_earns_points(case: Case, centre: Organisation) -> None:
    make_profile(centre, "mandarin_only", languages=(Language.MANDARIN,))
    make_profile(centre, "cantonese", languages=(Language.MANDARIN, Language.CANTONESE))

    assert ranked(case) == ["cantonese", "mandarin_only"]
    assert reasons_of(case, "cantonese")["language"] == 15
    assert "language" not in reasons_of(case, "mandarin_only")


@pytest.mark.parametrize(
    ("region", "dialect"),
    [
        ("广东省广州市", Language.CANTONESE),
        ("广东省梅州市", Language.HAKKA),
        ("福建省厦门市", Language.MINNAN),
        ("香港特别行政区", Language.CANTONESE),
        ("上海市", Language.WU),
        ("北京市", None),
        ("", None),
    ],
)
def test_dialect_rule_by_region(region: str, dialect: str | None) -> None:
    assert dialect_for_region(region) == dialect


def test_same_region_beats_same_province_beats_elsewhere(case: Case, centre: Organisation) -> None:
    make_profile(centre, "elsewhere", region="浙江省杭州市")
    make_profile(centre, "province", region="广东省深圳市")
    make_profile(centre, "city", region="广东省广州市")

    assert ranked(case) == ["city", "province", "elsewhere"]
    assert reasons_of(case, "city")["region"] == 10
    assert reasons_of(case, "province")["province"] == 6


def test_ties_are_broken_by_profile_id_and_the_order_is_stable(case: Case, centre: Organisation) -> None:
    profiles = [make_profile(centre, f"twin_{i}") for i in range(4)]

    first = recommend(case, on=ON)
    second = recommend(case, on=ON)

    assert [item.profile.pk for item in first] == sorted(p.pk for p in profiles)
    assert [(i.profile.pk, i.score, i.reasons) for i in first] == [(i.profile.pk, i.score, i.reasons) for i in second]


def test_limit_cuts_the_list_after_ranking(case: Case, centre: Organisation) -> None:
    for i in range(5):
        make_profile(centre, f"many_{i}")
    make_profile(centre, "best", expertise=(("credit_card", "interest_fees"),))

    assert ranked(case, limit=2)[0] == "best"
    assert len(ranked(case, limit=2)) == 2


def test_suspended_retired_and_uncertified_mediators_are_never_listed(case: Case, centre: Organisation) -> None:
    make_profile(centre, "suspended", status=MediatorProfile.Status.SUSPENDED, expertise=(("credit_card", ""),))
    make_profile(centre, "retired", status=MediatorProfile.Status.RETIRED)
    make_profile(centre, "expired", certificate_expires=ON - datetime.timedelta(days=1))
    make_profile(centre, "expires_today", certificate_expires=ON)
    inactive = make_profile(centre, "inactive_account")
    User.objects.filter(pk=inactive.user_id).update(is_active=False)

    assert ranked(case) == ["expires_today"]


def test_mediator_excluded_for_past_employment_with_the_institution_is_never_listed(
    case: Case, centre: Organisation, bank: Organisation
) -> None:
    conflicted = make_profile(centre, "former_employee", expertise=(("credit_card", "interest_fees"),))
    DeclaredRelationship.objects.create(
        profile=conflicted,
        kind=DeclaredRelationship.Kind.PAST_EMPLOYMENT,
        organisation=bank,
        start_date=datetime.date(2015, 1, 1),
        end_date=ON - datetime.timedelta(days=365),
    )
    make_profile(centre, "neutral")

    assert ranked(case) == ["neutral"]


def test_mediators_of_other_centres_are_not_listed(
    case: Case, centre: Organisation, other_centre: Organisation
) -> None:
    make_profile(other_centre, "elsewhere", expertise=(("credit_card", "interest_fees"),))
    make_profile(centre, "ours")

    assert ranked(case) == ["ours"]


def test_mediators_on_or_removed_from_the_case_are_not_offered_again(case: Case, centre: Organisation) -> None:
    lead = make_profile(centre, "lead")
    declined = make_profile(centre, "declined")
    make_profile(centre, "fresh")
    CaseParticipant.objects.create(case=case, user=lead.user, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR)
    CaseParticipant.objects.create(
        case=case,
        user=declined.user,
        capacity=CaseParticipant.Capacity.LEAD_MEDIATOR,
        removed_at=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC),
    )

    assert ranked(case) == ["fresh"]


def _populate(
    centre: Organisation, make_case: Callable[..., Case], consumer: User, elsewhere: Organisation, count: int
) -> None:
    """``count`` mediators with every kind of data the recommendation reads."""
    for _ in range(count):
        profile = make_profile(
            centre,
            expertise=(("credit_card", "interest_fees"), ("mortgage", "")),
            languages=(Language.MANDARIN, Language.CANTONESE),
            region="广东省广州市",
        )
        Unavailability.objects.create(profile=profile, start_date=ON, end_date=ON + datetime.timedelta(days=3))
        # Declared, but about another institution: read, and no reason to exclude.
        DeclaredRelationship.objects.create(
            profile=profile, kind=DeclaredRelationship.Kind.FINANCIAL_INTEREST, organisation=elsewhere
        )
        carried = past_case(
            make_case,
            profile,
            CaseState.CLOSED,
            agreement_effective_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC),
        )
        past_case(make_case, profile, CaseState.MEDIATING)
        Rating.objects.create(case=carried, mediator=profile.user, party=consumer, score=4)


def test_query_count_does_not_grow_with_the_pool(
    case: Case,
    centre: Organisation,
    make_case: Callable[..., Case],
    consumer: User,
    other_bank: Organisation,
    django_assert_max_num_queries: Any,
) -> None:
    case = Case.objects.select_related("institution", "centre").get(pk=case.pk)
    _populate(centre, make_case, consumer, other_bank, 5)
    with CaptureQueriesContext(connection) as small:
        assert len(recommend(case, on=ON)) == 5
    small_count = len(small)

    _populate(centre, make_case, consumer, other_bank, 45)
    with django_assert_max_num_queries(small_count):
        assert len(recommend(case, on=ON, limit=100)) == 50
    with CaptureQueriesContext(connection) as large:
        recommend(case, on=ON, limit=100)
    assert len(large) == small_count
    assert small_count <= 13, small_count
