"""Neutrality: automatic exclusion, the assignment hook, disclosure and responses, change requests."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation import permissions, services
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    LedgerEntry,
    Notification,
    Organisation,
    Role,
    TerminationReason,
    User,
)
from mediation.services import CaseError
from mediators import neutrality
from mediators.models import ChangeRequest, DeclaredRelationship, Disclosure, DisclosureResponse, MediatorProfile
from tests import factories

Kind = DeclaredRelationship.Kind
ON = datetime.date(2026, 6, 1)


def declare(profile: MediatorProfile, kind: str, **fields: Any) -> DeclaredRelationship:
    return DeclaredRelationship.objects.create(profile=profile, kind=kind, **fields)


@pytest.fixture
def mediator_profile(mediator: User) -> MediatorProfile:
    return MediatorProfile.objects.get(user=mediator)


@pytest.fixture
def other_mediator_profile(other_mediator: User) -> MediatorProfile:
    return MediatorProfile.objects.get(user=other_mediator)


@pytest.fixture
def choosing_case(transferred_case: Case, consumer: User, bank_agent: User) -> Case:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    transferred_case.refresh_from_db()
    return transferred_case


@pytest.fixture
def awaiting_case(choosing_case: Case, case_manager: User, mediator: User, mediator_profile: MediatorProfile) -> Case:
    services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)
    choosing_case.refresh_from_db()
    return choosing_case


@pytest.fixture
def mediating(awaiting_case: Case, mediator: User) -> Case:
    neutrality.confirm_no_conflict_and_accept(awaiting_case, mediator=mediator)
    awaiting_case.refresh_from_db()
    return awaiting_case


def fresh(user: User) -> User:
    """Re-read the user: guardian caches permissions on the instance."""
    return User.objects.get(pk=user.pk)


# --- exclusion rules -------------------------------------------------------------------------


@pytest.fixture
def years(settings: Any) -> int:
    settings.MEDIATOR_EXCLUSION_YEARS = 3
    return 3


def test_employment_at_the_institution_within_the_exclusion_years_excludes(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank, end_date=datetime.date(2024, 1, 31))

    reasons = neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON)

    assert len(reasons) == 1 and bank.name in reasons[0] and "2024-01-31" in reasons[0]


def test_employment_that_ended_longer_ago_than_the_exclusion_years_does_not_exclude(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank, end_date=datetime.date(2023, 5, 31))

    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) == []


def test_employment_ending_exactly_the_exclusion_years_ago_still_excludes(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank, end_date=datetime.date(2023, 6, 1))

    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) != []
    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON + datetime.timedelta(days=1)) == []


def test_the_exclusion_years_follow_the_setting(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, settings: Any
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank, end_date=datetime.date(2022, 1, 1))

    settings.MEDIATOR_EXCLUSION_YEARS = 3
    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) == []
    settings.MEDIATOR_EXCLUSION_YEARS = 5
    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) != []


def test_a_mediator_still_employed_by_the_institution_is_excluded(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank, start_date=datetime.date(2010, 1, 1))

    reasons = neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON)

    assert reasons == [f"目前在{bank.name}任职"]


def test_employment_at_a_branch_of_the_same_head_office_excludes(
    make_case: Callable[..., Case],
    mediator_profile: MediatorProfile,
    bank: Organisation,
    bank_branch: Organisation,
    years: int,
) -> None:
    sister_branch = factories.organisation(Organisation.Kind.INSTITUTION, "华南商业银行越秀支行", parent=bank)
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=sister_branch, end_date=datetime.date(2025, 1, 1))
    against_head_office = make_case()
    against_branch = make_case(institution=bank_branch)

    assert neutrality.exclusion_reasons(mediator_profile, against_head_office, on=ON) != []
    assert neutrality.exclusion_reasons(mediator_profile, against_branch, on=ON) != []


def test_employment_at_another_bank_does_not_exclude(
    submitted_case: Case, mediator_profile: MediatorProfile, other_bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.PAST_EMPLOYMENT, organisation=other_bank, end_date=None)

    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) == []


def test_a_declared_financial_interest_excludes_whatever_its_dates(
    submitted_case: Case, mediator_profile: MediatorProfile, bank_branch: Organisation, years: int
) -> None:
    declare(
        mediator_profile,
        Kind.FINANCIAL_INTEREST,
        organisation=bank_branch,
        start_date=datetime.date(2001, 1, 1),
        end_date=datetime.date(2005, 1, 1),
        description="持有该行股票",
    )

    reasons = neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON)

    assert reasons == [f"申报持有{bank_branch.name}的股份或其他经济利益"]


def test_a_close_relative_at_the_institution_excludes(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.CLOSE_RELATIVE, organisation=bank, person_name="吴小明", description="配偶")

    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) == [f"近亲属在{bank.name}任职"]


def test_a_relationship_naming_the_consumer_excludes(
    submitted_case: Case, mediator_profile: MediatorProfile, consumer: User, years: int
) -> None:
    declare(mediator_profile, Kind.OTHER, person_name=consumer.real_name, description="同学")

    reasons = neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON)

    assert len(reasons) == 1 and consumer.real_name in reasons[0]


def test_a_relationship_naming_someone_else_or_an_other_kind_with_the_bank_does_not_exclude(
    submitted_case: Case, mediator_profile: MediatorProfile, bank: Organisation, years: int
) -> None:
    declare(mediator_profile, Kind.CLOSE_RELATIVE, person_name="李四", description="表亲")
    declare(mediator_profile, Kind.OTHER, organisation=bank, description="曾为该行讲课")

    assert neutrality.exclusion_reasons(mediator_profile, submitted_case, on=ON) == []


def test_exclusions_for_many_profiles_take_a_fixed_number_of_queries(
    submitted_case: Case,
    centre: Organisation,
    bank: Organisation,
    years: int,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    profiles = []
    for index in range(30):
        person = factories.pool_mediator(f"pool{index}", centre, real_name=f"调解员{index}")
        profile = MediatorProfile.objects.get(user=person)
        if index % 3 == 0:
            declare(profile, Kind.FINANCIAL_INTEREST, organisation=bank)
        profiles.append(profile)

    with django_assert_max_num_queries(5):
        excluded = neutrality.excluded_profile_ids(profiles, submitted_case, ON)

    assert excluded == {p.pk for i, p in enumerate(profiles) if i % 3 == 0}


# --- the assignment hook ---------------------------------------------------------------------


def test_assigning_an_excluded_mediator_is_refused_with_the_reason(
    choosing_case: Case, case_manager: User, mediator: User, mediator_profile: MediatorProfile, bank: Organisation
) -> None:
    declare(mediator_profile, Kind.FINANCIAL_INTEREST, organisation=bank)

    with pytest.raises(CaseError, match="股份或其他经济利益"):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR
    assert not choosing_case.participants.filter(user=mediator).exists()


@pytest.mark.parametrize(
    ("status", "expires", "certified", "message"),
    [
        (MediatorProfile.Status.SUSPENDED, None, True, "暂停"),
        (MediatorProfile.Status.RETIRED, None, True, "退出"),
        (MediatorProfile.Status.ACTIVE, datetime.date(2020, 1, 1), True, "资格证书"),
        (MediatorProfile.Status.ACTIVE, None, False, "资格证书"),
    ],
)
def test_assigning_a_suspended_retired_or_uncertified_mediator_is_refused(
    choosing_case: Case,
    case_manager: User,
    mediator: User,
    mediator_profile: MediatorProfile,
    status: str,
    expires: datetime.date | None,
    certified: bool,
    message: str,
) -> None:
    MediatorProfile.objects.filter(pk=mediator_profile.pk).update(status=status)
    if certified:
        mediator_profile.qualifications.update(expires_on=expires)
    else:
        mediator_profile.qualifications.all().delete()

    with pytest.raises(CaseError, match=message):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=mediator)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR


def test_a_mediator_without_a_roster_profile_or_from_another_centre_is_refused(
    choosing_case: Case, case_manager: User, centre: Organisation, other_centre: Organisation
) -> None:
    unlisted = factories.user("unlisted", Role.MEDIATOR, centre)
    far_away = factories.pool_mediator("far_away", other_centre)

    with pytest.raises(CaseError, match="不在调解员名册中"):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=unlisted)
    with pytest.raises(CaseError, match="不在本案调解中心"):
        services.assign_mediator(choosing_case, actor=case_manager, mediator=far_away)

    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR


def test_an_eligible_mediator_is_assigned(awaiting_case: Case, mediator: User) -> None:
    assert awaiting_case.state == CaseState.AWAITING_MEDIATOR
    assert fresh(mediator).has_perm(permissions.MEDIATE, awaiting_case)


def test_an_excluded_co_mediator_is_refused(
    mediating: Case,
    case_manager: User,
    other_mediator: User,
    other_mediator_profile: MediatorProfile,
    bank: Organisation,
) -> None:
    declare(other_mediator_profile, Kind.PAST_EMPLOYMENT, organisation=bank)

    with pytest.raises(CaseError, match="任职"):
        services.add_co_mediator(mediating, actor=case_manager, mediator=other_mediator)

    assert not mediating.participants.filter(user=other_mediator).exists()


# --- exclusions page -------------------------------------------------------------------------


def test_case_manager_sees_which_mediators_are_excluded_and_why(
    client: Client,
    case_manager: User,
    choosing_case: Case,
    mediator_profile: MediatorProfile,
    other_mediator_profile: MediatorProfile,
    bank: Organisation,
) -> None:
    declare(other_mediator_profile, Kind.CLOSE_RELATIVE, organisation=bank, person_name="郑某")
    client.force_login(case_manager)

    response = client.get(reverse("mediators:case_exclusions", kwargs={"pk": choosing_case.pk}))

    assert response.status_code == 200
    excluded = dict(response.context["excluded"])
    assert list(excluded) == [other_mediator_profile]
    assert excluded[other_mediator_profile] == [f"近亲属在{bank.name}任职"]
    assert f"近亲属在{bank.name}任职" in response.content.decode()
    assert response.context["eligible_count"] == 1


# --- disclosure (Art 13) ---------------------------------------------------------------------


def test_mediator_confirms_no_conflict_and_accepts_in_one_step(
    client: Client, mediator: User, awaiting_case: Case
) -> None:
    client.force_login(mediator)

    response = client.post(reverse("mediators:disclosure", kwargs={"pk": awaiting_case.pk}), {"statement": "none"})

    assert response.status_code == 302
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.MEDIATING
    disclosure = Disclosure.objects.get(case=awaiting_case)
    assert disclosure.mediator == mediator and not disclosure.has_conflict
    assert LedgerEntry.objects.filter(action="mediators.disclosure.made", case=awaiting_case).exists()


def test_accepting_without_a_disclosure_is_refused(awaiting_case: Case, mediator: User) -> None:
    with pytest.raises(CaseError, match="利益冲突"):
        neutrality.accept_after_disclosure(awaiting_case, mediator=mediator)

    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.AWAITING_MEDIATOR


def test_a_conflict_disclosure_without_text_is_a_field_error_and_nothing_is_stored(
    client: Client, mediator: User, awaiting_case: Case
) -> None:
    client.force_login(mediator)

    response = client.post(
        reverse("mediators:disclosure", kwargs={"pk": awaiting_case.pk}), {"statement": "conflict", "text": "  "}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["text"] == ["披露利益冲突时须说明具体情况。"]
    assert not Disclosure.objects.exists()


@pytest.fixture
def disclosed(
    client: Client, mediator: User, awaiting_case: Case, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Disclosure:
    client.force_login(mediator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("mediators:disclosure", kwargs={"pk": awaiting_case.pk}),
            {"statement": "conflict", "text": "本人三年前曾为该行提供法律咨询。"},
        )
    disclosure = Disclosure.objects.get(case=awaiting_case)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "mediators:disclosure_detail", kwargs={"pk": awaiting_case.pk, "disclosure_pk": disclosure.pk}
    )
    client.logout()
    return disclosure


def detail_url(disclosure: Disclosure) -> str:
    return reverse("mediators:disclosure_detail", kwargs={"pk": disclosure.case_id, "disclosure_pk": disclosure.pk})


def test_a_disclosed_conflict_is_told_to_both_parties_who_can_read_it(
    client: Client, disclosed: Disclosure, consumer: User, bank_agent: User
) -> None:
    for party in (consumer, bank_agent):
        assert Notification.objects.filter(recipient=party, kind="mediators.disclosure.made").exists()
        client.force_login(party)
        response = client.get(detail_url(disclosed))
        assert response.status_code == 200
        assert "本人三年前曾为该行提供法律咨询。" in response.content.decode()
        assert response.context["may_answer"] is True


def test_mediator_accepts_only_after_every_party_agrees_to_continue(
    client: Client, disclosed: Disclosure, consumer: User, bank_agent: User, mediator: User
) -> None:
    case = disclosed.case
    accept_url = reverse("mediators:disclosure_accept", kwargs={"pk": case.pk})
    client.force_login(consumer)
    client.post(detail_url(disclosed), {"decision": "continue"})
    client.force_login(mediator)
    client.post(accept_url)
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_MEDIATOR

    client.force_login(bank_agent)
    client.post(detail_url(disclosed), {"decision": "continue"})
    client.force_login(mediator)
    page = client.get(reverse("mediators:disclosure", kwargs={"pk": case.pk}))
    assert page.context["can_accept"] is True
    client.post(accept_url)

    case.refresh_from_db()
    assert case.state == CaseState.MEDIATING
    assert set(disclosed.responses.values_list("decision", flat=True)) == {DisclosureResponse.Decision.CONTINUE}


def test_the_institution_answers_a_disclosure_once_whichever_agent(
    client: Client, disclosed: Disclosure, bank_agent: User, bank_supervisor: User
) -> None:
    client.force_login(bank_agent)
    client.post(detail_url(disclosed), {"decision": "continue"})

    client.force_login(bank_supervisor)
    assert client.get(detail_url(disclosed)).context["may_answer"] is False
    response = client.post(detail_url(disclosed), {"decision": "change"})

    assert response.status_code == 400
    assert disclosed.responses.count() == 1
    assert not ChangeRequest.objects.exists()


def test_a_party_asking_for_a_change_files_a_change_request_with_the_disclosure_as_reason(
    client: Client,
    disclosed: Disclosure,
    consumer: User,
    case_manager: User,
    mediator: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client.force_login(consumer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(detail_url(disclosed), {"decision": "change"})

    change = ChangeRequest.objects.get(case=disclosed.case)
    assert change.status == ChangeRequest.Status.PENDING
    assert change.requested_by == consumer and change.mediator == mediator
    assert "本人三年前曾为该行提供法律咨询。" in change.reason
    assert Notification.objects.filter(recipient=case_manager, kind="mediators.change.requested").exists()
    with pytest.raises(CaseError, match="更换"):
        neutrality.accept_after_disclosure(disclosed.case, mediator=mediator)


def test_granting_the_change_withdraws_the_mediator_at_once(
    client: Client, disclosed: Disclosure, consumer: User, case_manager: User, mediator: User
) -> None:
    case = disclosed.case
    client.force_login(consumer)
    client.post(detail_url(disclosed), {"decision": "change"})
    change = ChangeRequest.objects.get(case=case)
    assert fresh(mediator).has_perm(permissions.VIEW, case)

    client.force_login(case_manager)
    response = client.post(
        reverse("mediators:decide_change", kwargs={"pk": case.pk, "change_pk": change.pk}),
        {"decision": "grant", "note": "调解员披露的关系足以影响当事人信任。"},
    )

    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.GRANTED and change.decided_by == case_manager
    removed = fresh(mediator)
    assert not removed.has_perm(permissions.VIEW, case)
    assert not removed.has_perm(permissions.MEDIATE, case)
    client.force_login(removed)
    assert client.get(reverse("case_detail", kwargs={"pk": case.pk})).status_code == 404
    assert client.get(reverse("mediators:disclosure", kwargs={"pk": case.pk})).status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.CHOOSING_MEDIATOR
    assert case.deadlines.get(kind=ClockKind.ASSIGNMENT).status == Deadline.Status.RUNNING
    assert LedgerEntry.objects.filter(action="mediators.change.granted", case=case).exists()
    decided = LedgerEntry.objects.get(action="mediators.change.decided", case=case)
    assert decided.data["decision"] == "granted" and decided.actor == case_manager


def test_refusing_a_change_keeps_the_mediator_and_is_recorded(
    mediating: Case, consumer: User, case_manager: User, mediator: User
) -> None:
    change = neutrality.request_change(mediating, party=consumer, mediator=mediator, reason="调解员态度偏向银行")

    neutrality.decide_change(change, actor=case_manager, grant=False, note="未发现偏向的事实。")

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.REFUSED and change.decision_note == "未发现偏向的事实。"
    assert fresh(mediator).has_perm(permissions.MEDIATE, mediating)
    mediating.refresh_from_db()
    assert mediating.state == CaseState.MEDIATING
    entry = LedgerEntry.objects.get(action="mediators.change.decided", case=mediating)
    assert entry.data["decision"] == "refused"
    with pytest.raises(CaseError, match="已处理"):
        neutrality.decide_change(change, actor=case_manager, grant=True, note="改变主意")


# --- change requests (Art 14) ----------------------------------------------------------------


def test_a_party_requests_a_change_on_the_page_and_managers_are_told(
    client: Client,
    mediating: Case,
    bank_agent: User,
    case_manager: User,
    mediator: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client.force_login(bank_agent)
    url = reverse("mediators:change_requests", kwargs={"pk": mediating.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"mediator": mediator.pk, "reason": "调解员与投诉人同乡"})

    assert response.status_code == 302
    change = ChangeRequest.objects.get(case=mediating)
    assert change.requested_by == bank_agent and change.status == ChangeRequest.Status.PENDING
    assert Notification.objects.filter(recipient=case_manager, kind="mediators.change.requested").exists()
    assert LedgerEntry.objects.filter(action="mediators.change.requested", case=mediating).exists()
    client.force_login(case_manager)
    listing = client.get(url)
    assert listing.status_code == 200 and list(listing.context["requests"]) == [change]


def test_a_change_request_without_a_reason_is_a_field_error(
    client: Client, mediating: Case, consumer: User, mediator: User
) -> None:
    client.force_login(consumer)

    response = client.post(
        reverse("mediators:change_requests", kwargs={"pk": mediating.pk}), {"mediator": mediator.pk, "reason": " "}
    )

    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert not ChangeRequest.objects.exists()


def test_a_change_cannot_be_requested_before_a_mediator_is_assigned(
    choosing_case: Case, consumer: User, mediator: User, mediator_profile: MediatorProfile
) -> None:
    with pytest.raises(CaseError):
        neutrality.request_change(choosing_case, party=consumer, mediator=mediator, reason="不信任")

    assert not ChangeRequest.objects.exists()


def test_a_decision_needs_a_note(
    client: Client, mediating: Case, consumer: User, case_manager: User, mediator: User
) -> None:
    change = neutrality.request_change(mediating, party=consumer, mediator=mediator, reason="不信任")
    client.force_login(case_manager)

    response = client.post(
        reverse("mediators:decide_change", kwargs={"pk": mediating.pk, "change_pk": change.pk}),
        {"decision": "grant", "note": ""},
    )

    assert response.status_code == 400
    assert "note" in response.context["form"].errors
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.PENDING
    assert fresh(mediator).has_perm(permissions.MEDIATE, mediating)


def test_a_party_who_refused_every_mediator_is_recorded_as_refusing_mediation(
    client: Client,
    mediating: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    other_mediator_profile: MediatorProfile,
) -> None:
    first = neutrality.request_change(mediating, party=consumer, mediator=mediator, reason="不信任")
    assert neutrality.refused_every_choice(mediating, consumer) is False  # other_mediator is still there
    neutrality.decide_change(first, actor=case_manager, grant=True, note="同意更换")
    services.assign_mediator(mediating, actor=case_manager, mediator=other_mediator)
    second = neutrality.request_change(mediating, party=consumer, mediator=other_mediator, reason="仍不信任")

    assert neutrality.refused_every_choice(mediating, consumer) is True
    assert neutrality.refused_every_choice(mediating, bank_agent) is False
    client.force_login(case_manager)
    page = client.get(reverse("mediators:decide_change", kwargs={"pk": mediating.pk, "change_pk": second.pk}))
    assert page.context["refused_all"] is True
    response = client.post(reverse("mediators:terminate_refused", kwargs={"pk": mediating.pk, "change_pk": second.pk}))

    assert response.status_code == 302
    mediating.refresh_from_db()
    assert mediating.state == CaseState.TERMINATED
    assert mediating.termination_reason == TerminationReason.REFUSED
    entry = LedgerEntry.objects.get(action="mediators.party.refused_every_choice", case=mediating)
    assert entry.data["party"] == consumer.pk and set(entry.data["refused"]) == {mediator.pk, other_mediator.pk}


def test_termination_for_refusal_is_refused_while_a_mediator_remains(
    client: Client,
    mediating: Case,
    consumer: User,
    case_manager: User,
    mediator: User,
    other_mediator_profile: MediatorProfile,
) -> None:
    change = neutrality.request_change(mediating, party=consumer, mediator=mediator, reason="不信任")
    client.force_login(case_manager)

    assert (
        client.get(reverse("mediators:decide_change", kwargs={"pk": mediating.pk, "change_pk": change.pk})).context[
            "refused_all"
        ]
        is False
    )
    client.post(reverse("mediators:terminate_refused", kwargs={"pk": mediating.pk, "change_pk": change.pk}))

    mediating.refresh_from_db()
    assert mediating.state == CaseState.MEDIATING


# --- who may reach the pages -----------------------------------------------------------------


@pytest.fixture
def every_page(disclosed: Disclosure, consumer: User, mediator: User) -> list[str]:
    case = disclosed.case
    change = ChangeRequest.objects.create(case=case, mediator=mediator, requested_by=consumer, reason="不信任")
    pk = case.pk
    return [
        reverse("mediators:case_exclusions", kwargs={"pk": pk}),
        reverse("mediators:choose_mediator", kwargs={"pk": pk}),
        reverse("mediators:disclosure", kwargs={"pk": pk}),
        reverse("mediators:disclosure_accept", kwargs={"pk": pk}),
        reverse("mediators:disclosure_detail", kwargs={"pk": pk, "disclosure_pk": disclosed.pk}),
        reverse("mediators:change_requests", kwargs={"pk": pk}),
        reverse("mediators:decide_change", kwargs={"pk": pk, "change_pk": change.pk}),
        reverse("mediators:terminate_refused", kwargs={"pk": pk, "change_pk": change.pk}),
    ]


@pytest.mark.parametrize(
    "persona", ["outsider", "other_consumer", "other_bank_agent", "other_case_manager", "other_mediator", "court_clerk"]
)
def test_outsiders_get_404_on_every_neutrality_page(
    client: Client, request: pytest.FixtureRequest, persona: str, every_page: list[str], disclosed: Disclosure
) -> None:
    client.force_login(request.getfixturevalue(persona))
    before = (Disclosure.objects.count(), DisclosureResponse.objects.count(), ChangeRequest.objects.count())

    for url in every_page:
        for method in ("get", "post", "put"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, f"{persona} {method.upper()} {url} -> {response.status_code}"

    disclosed.case.refresh_from_db()
    assert disclosed.case.state == CaseState.AWAITING_MEDIATOR
    assert (Disclosure.objects.count(), DisclosureResponse.objects.count(), ChangeRequest.objects.count()) == before


def test_pages_for_one_role_are_404_to_the_other_people_on_the_case(
    client: Client, every_page: list[str], consumer: User, bank_agent: User, mediator: User, case_manager: User
) -> None:
    exclusions, _choose, disclosure, accept, _detail, changes, decide, terminate = every_page
    for party in (consumer, bank_agent):
        client.force_login(party)
        for url in (exclusions, disclosure, accept, decide, terminate):
            assert client.get(url).status_code == 404, url
    client.force_login(mediator)
    for url in (exclusions, changes, decide, terminate):
        assert client.get(url).status_code == 404, url
    assert client.post(every_page[4], {"decision": "continue"}).status_code == 404
    client.force_login(case_manager)
    for url in (disclosure, accept):
        assert client.get(url).status_code == 404, url
    assert client.post(changes, {"mediator": mediator.pk, "reason": "x"}).status_code == 404


def test_anonymous_visitors_are_sent_to_login(client: Client, every_page: list[str]) -> None:
    for url in every_page:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_disclosure_of_another_case_is_404(
    client: Client, disclosed: Disclosure, consumer: User, make_case: Callable[..., Case]
) -> None:
    own_other_case = make_case()
    client.force_login(consumer)

    response = client.get(
        reverse("mediators:disclosure_detail", kwargs={"pk": own_other_case.pk, "disclosure_pk": disclosed.pk})
    )

    assert response.status_code == 404


def test_participants_rows_are_unchanged_for_a_removed_mediator_except_the_removal(
    mediating: Case, consumer: User, case_manager: User, mediator: User
) -> None:
    change = neutrality.request_change(mediating, party=consumer, mediator=mediator, reason="不信任")
    neutrality.decide_change(change, actor=case_manager, grant=True, note="同意")

    participation = CaseParticipant.objects.get(case=mediating, user=mediator)
    assert participation.removed_at is not None


def test_a_change_of_a_mediator_who_already_left_cannot_be_granted_but_can_be_closed(
    awaiting_case: Case, consumer: User, case_manager: User, mediator: User
) -> None:
    change = neutrality.request_change(awaiting_case, party=consumer, mediator=mediator, reason="不信任")
    services.mediator_declines(awaiting_case, mediator=mediator, reason="另有案件")

    with pytest.raises(CaseError, match="已不在本案中"):
        neutrality.decide_change(change, actor=case_manager, grant=True, note="同意")
    neutrality.decide_change(change, actor=case_manager, grant=False, note="调解员已拒绝委派，无需更换。")

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.REFUSED
