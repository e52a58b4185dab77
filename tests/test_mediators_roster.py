"""The pool itself: profiles managed by centre staff, a mediator's own availability, the public roster."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediation.models import LedgerEntry, Organisation, Role, User
from mediators import roster
from mediators.models import (
    DeclaredRelationship,
    Expertise,
    MediatorLanguage,
    MediatorProfile,
    Qualification,
    Unavailability,
)
from tests import factories

TODAY = timezone.localdate()
D = datetime.timedelta


def make_profile(
    user: User,
    centre: Organisation,
    *,
    status: str = MediatorProfile.Status.ACTIVE,
    expires_on: datetime.date | None = None,
    certified: bool = True,
    languages: tuple[str, ...] = ("mandarin",),
    expertise: tuple[tuple[str, str], ...] = (("credit_card", ""),),
    region: str = "广东省广州市",
    biography: str = "",
    **fields: Any,
) -> MediatorProfile:
    profile = MediatorProfile.objects.create(
        user=user,
        centre=centre,
        display_name=fields.pop("display_name", user.real_name),
        employment=fields.pop("employment", MediatorProfile.Employment.FULL_TIME),
        region=region,
        status=status,
        biography=biography,
        **fields,
    )
    for code in languages:
        MediatorLanguage.objects.create(profile=profile, language=code)
    for category, issue_type in expertise:
        Expertise.objects.create(profile=profile, product_category=category, issue_type=issue_type)
    if certified:
        Qualification.objects.create(profile=profile, name="人民调解员资格证书", expires_on=expires_on)
    return profile


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def ledger_actions() -> list[str]:
    return list(LedgerEntry.objects.order_by("seq").values_list("action", flat=True))


PROFILE_POST = {
    "display_name": "林调解员",
    "title": "退休法官",
    "employment": "part_time",
    "region": "广东省深圳市",
    "max_caseload": "5",
    "fee_note": "",
    "biography": "从事审判工作二十年。",
    "languages": ["mandarin", "cantonese"],
    "expertise": ["credit_card", "personal_loan.interest_fees"],
}


@pytest.fixture
def mediator(centre: Organisation) -> User:
    """A mediator account without a roster profile: these tests build the profiles themselves."""
    return factories.user("mediator", Role.MEDIATOR, centre, real_name="吴调解员")


@pytest.fixture
def other_mediator(centre: Organisation) -> User:
    return factories.user("other_mediator", Role.MEDIATOR, centre, real_name="郑调解员")


@pytest.fixture
def profile(mediator: User, centre: Organisation) -> MediatorProfile:
    return make_profile(mediator, centre, max_caseload=7)


@pytest.fixture
def other_profile(other_mediator: User, centre: Organisation) -> MediatorProfile:
    return make_profile(other_mediator, centre)


# --- staff manage profiles -------------------------------------------------------------------


def test_case_manager_lists_only_their_centres_mediators(
    client: Client, case_manager: User, profile: MediatorProfile, other_centre: Organisation
) -> None:
    stranger = factories.user("far_mediator", Role.MEDIATOR, other_centre, real_name="远方调解员")
    make_profile(stranger, other_centre)
    response = login(client, case_manager).get(reverse("mediators:profile_list"))
    assert response.status_code == 200
    assert [p.pk for p, _valid in response.context["rows"]] == [profile.pk]
    assert "远方调解员" not in response.content.decode()


def test_case_manager_creates_a_profile_with_a_new_account_without_a_password(
    client: Client, case_manager: User, centre: Organisation
) -> None:
    post = {**PROFILE_POST, "username": "lin_mediator", "real_name": "林晓", "phone": "13900001111"}
    response = login(client, case_manager).post(reverse("mediators:profile_create"), post)
    profile = MediatorProfile.objects.get(display_name="林调解员")
    assert response.status_code == 302
    assert response["Location"] == reverse("mediators:profile_detail", kwargs={"mediator_pk": profile.pk})
    user = profile.user
    assert (user.username, user.role, user.organisation, user.real_name) == (
        "lin_mediator",
        Role.MEDIATOR,
        centre,
        "林晓",
    )
    assert not user.has_usable_password()
    assert profile.centre == centre and profile.max_caseload == 5
    assert set(profile.languages.values_list("language", flat=True)) == {"mandarin", "cantonese"}
    assert set(profile.expertise.values_list("product_category", "issue_type")) == {
        ("credit_card", ""),
        ("personal_loan", "interest_fees"),
    }
    entry = LedgerEntry.objects.get(action="mediators.profile.created")
    assert entry.case is None and entry.actor == case_manager
    assert entry.data["profile"] == profile.pk and entry.data["account_created"] is True


def test_case_manager_links_an_existing_mediator_account_of_the_centre(
    client: Client, case_manager: User, mediator: User
) -> None:
    response = login(client, case_manager).post(
        reverse("mediators:profile_create"), {**PROFILE_POST, "existing_user": mediator.pk}
    )
    assert response.status_code == 302
    profile = MediatorProfile.objects.get(user=mediator)
    assert profile.display_name == "林调解员"
    mediator.refresh_from_db()
    assert mediator.has_usable_password()  # their own password is left alone
    assert LedgerEntry.objects.get(action="mediators.profile.created").data["account_created"] is False


def test_a_mediator_of_another_centre_cannot_be_linked(
    client: Client, case_manager: User, other_centre: Organisation
) -> None:
    stranger = factories.user("far_mediator", Role.MEDIATOR, other_centre)
    response = login(client, case_manager).post(
        reverse("mediators:profile_create"), {**PROFILE_POST, "existing_user": stranger.pk}
    )
    assert response.status_code == 400
    assert "existing_user" in response.context["form"].errors
    assert not MediatorProfile.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expertise": ["credit_card.claim_refused"]}, "expertise"),  # issue type of another category
        ({"expertise": ["no_such_category"]}, "expertise"),
        ({"languages": []}, "languages"),
        ({"languages": ["klingon"]}, "languages"),
        ({"charges_fees": "on", "fee_note": ""}, "fee_note"),
        ({"max_caseload": "0"}, "max_caseload"),
        ({"region": ""}, "region"),
        ({"username": "case_manager"}, "username"),  # taken
        ({"username": ""}, "username"),
        ({"real_name": ""}, "real_name"),
    ],
)
def test_bad_profile_input_shows_field_errors_and_saves_nothing(
    client: Client, case_manager: User, change: dict[str, Any], field: str
) -> None:
    post = {**PROFILE_POST, "username": "lin_mediator", "real_name": "林晓", **change}
    login(client, case_manager)
    users_before, ledger_before = User.objects.count(), LedgerEntry.objects.count()
    response = client.post(reverse("mediators:profile_create"), post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not MediatorProfile.objects.exists()
    assert (User.objects.count(), LedgerEntry.objects.count()) == (users_before, ledger_before)


def test_case_manager_edits_a_profile_and_the_ledger_keeps_old_and_new_values(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    post = {**PROFILE_POST, "charges_fees": "on", "fee_note": "按中心标准收费", "languages": ["minnan"]}
    response = login(client, case_manager).post(
        reverse("mediators:profile_edit", kwargs={"mediator_pk": profile.pk}), post
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.display_name, profile.region, profile.charges_fees) == ("林调解员", "广东省深圳市", True)
    assert list(profile.languages.values_list("language", flat=True)) == ["minnan"]
    entry = LedgerEntry.objects.get(action="mediators.profile.updated")
    assert entry.case is None
    assert entry.data["changes"]["region"] == ["广东省广州市", "广东省深圳市"]
    assert entry.data["languages"] == ["minnan"]


def test_a_failed_edit_changes_nothing(client: Client, case_manager: User, profile: MediatorProfile) -> None:
    post = {**PROFILE_POST, "expertise": ["mortgage.claim_refused"]}
    response = login(client, case_manager).post(
        reverse("mediators:profile_edit", kwargs={"mediator_pk": profile.pk}), post
    )
    assert response.status_code == 400
    assert "expertise" in response.context["form"].errors
    profile.refresh_from_db()
    assert profile.display_name == "吴调解员" and profile.region == "广东省广州市"
    assert not LedgerEntry.objects.filter(action="mediators.profile.updated").exists()


def test_the_edit_form_starts_from_the_current_languages_and_expertise(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    response = login(client, case_manager).get(reverse("mediators:profile_edit", kwargs={"mediator_pk": profile.pk}))
    form = response.context["form"]
    assert form.initial["languages"] == ["mandarin"] and form.initial["expertise"] == ["credit_card"]


def test_case_manager_suspends_a_mediator_with_a_reason(
    client: Client, case_manager: User, profile: MediatorProfile, centre: Organisation
) -> None:
    url = reverse("mediators:profile_status", kwargs={"mediator_pk": profile.pk})
    response = login(client, case_manager).post(url, {"status": "suspended", "reason": "投诉核查期间"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == MediatorProfile.Status.SUSPENDED
    entry = LedgerEntry.objects.get(action="mediators.profile.status_changed")
    assert entry.data == {"profile": profile.pk, "from": "active", "to": "suspended", "reason": "投诉核查期间"}
    assert profile not in roster.assignable_profiles(centre)


def test_status_change_without_a_reason_is_a_field_error(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    url = reverse("mediators:profile_status", kwargs={"mediator_pk": profile.pk})
    response = login(client, case_manager).post(url, {"status": "retired", "reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    profile.refresh_from_db()
    assert profile.status == MediatorProfile.Status.ACTIVE


def test_case_manager_adds_edits_and_removes_a_qualification(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    login(client, case_manager)
    add = reverse("mediators:qualification_add", kwargs={"mediator_pk": profile.pk})
    assert client.post(add, {"name": "律师执业证", "number": "A123", "expires_on": "2031-12-31"}).status_code == 302
    qualification = profile.qualifications.get(name="律师执业证")
    assert qualification.expires_on == datetime.date(2031, 12, 31)
    edit = reverse("mediators:qualification_edit", kwargs={"qualification_pk": qualification.pk})
    assert client.post(edit, {"name": "律师执业证", "expires_on": "2032-06-30"}).status_code == 302
    qualification.refresh_from_db()
    assert qualification.expires_on == datetime.date(2032, 6, 30)
    delete = reverse("mediators:qualification_delete", kwargs={"qualification_pk": qualification.pk})
    assert client.post(delete).status_code == 302
    assert not Qualification.objects.filter(pk=qualification.pk).exists()
    assert ledger_actions()[-3:] == [
        "mediators.qualification.added",
        "mediators.qualification.updated",
        "mediators.qualification.removed",
    ]


def test_a_qualification_with_a_bad_date_is_a_field_error(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    add = reverse("mediators:qualification_add", kwargs={"mediator_pk": profile.pk})
    response = login(client, case_manager).post(add, {"name": "", "expires_on": "2031-13-45"})
    assert response.status_code == 400
    assert {"name", "expires_on"} <= set(response.context["form"].errors)
    assert profile.qualifications.count() == 1


def test_case_manager_records_a_past_employment(
    client: Client, case_manager: User, profile: MediatorProfile, bank: Organisation
) -> None:
    url = reverse("mediators:relationship_add", kwargs={"mediator_pk": profile.pk})
    post = {"kind": "past_employment", "organisation": bank.pk, "start_date": "2010-03-01", "end_date": "2019-06-30"}
    assert login(client, case_manager).post(url, post).status_code == 302
    relationship = profile.relationships.get()
    assert (relationship.organisation, relationship.end_date) == (bank, datetime.date(2019, 6, 30))
    entry = LedgerEntry.objects.get(action="mediators.relationship.declared")
    assert entry.data["by_mediator"] is False and entry.data["organisation_id"] == bank.pk


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"kind": "past_employment", "start_date": "2010-03-01"}, "organisation"),
        (
            {"kind": "past_employment", "organisation": "BANK", "start_date": "2019-03-01", "end_date": "2010-01-01"},
            "end_date",
        ),
        ({"kind": "past_employment", "organisation": "BANK"}, "start_date"),
        ({"kind": "close_relative", "person_name": ""}, "person_name"),
        ({"kind": "other", "description": ""}, "description"),
        ({"kind": "financial_interest", "organisation": "CENTRE"}, "organisation"),  # not an institution
    ],
)
def test_bad_relationship_input_is_a_field_error(
    client: Client,
    case_manager: User,
    profile: MediatorProfile,
    bank: Organisation,
    centre: Organisation,
    post: dict[str, str],
    field: str,
) -> None:
    post = {k: {"BANK": str(bank.pk), "CENTRE": str(centre.pk)}.get(v, v) for k, v in post.items()}
    url = reverse("mediators:relationship_add", kwargs={"mediator_pk": profile.pk})
    response = login(client, case_manager).post(url, post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not DeclaredRelationship.objects.exists()


def test_a_mediator_declares_their_own_relationship_but_cannot_edit_or_remove_it(
    client: Client, mediator: User, profile: MediatorProfile, bank: Organisation
) -> None:
    login(client, mediator)
    url = reverse("mediators:relationship_add", kwargs={"mediator_pk": profile.pk})
    post = {"kind": "financial_interest", "organisation": bank.pk, "description": "持有该行股票"}
    assert client.post(url, post).status_code == 302
    relationship = profile.relationships.get()
    assert LedgerEntry.objects.get(action="mediators.relationship.declared").data["by_mediator"] is True
    for name in ("relationship_edit", "relationship_delete"):
        assert client.post(reverse(f"mediators:{name}", kwargs={"relationship_pk": relationship.pk})).status_code == 404
    assert DeclaredRelationship.objects.filter(pk=relationship.pk).exists()


def test_case_manager_corrects_and_removes_a_relationship(
    client: Client, case_manager: User, profile: MediatorProfile, bank: Organisation
) -> None:
    relationship = DeclaredRelationship.objects.create(
        profile=profile, kind="close_relative", person_name="吴某", organisation=bank
    )
    login(client, case_manager)
    edit = reverse("mediators:relationship_edit", kwargs={"relationship_pk": relationship.pk})
    post = {"kind": "close_relative", "person_name": "吴某某", "organisation": bank.pk}
    assert client.post(edit, post).status_code == 302
    relationship.refresh_from_db()
    assert relationship.person_name == "吴某某"
    delete = reverse("mediators:relationship_delete", kwargs={"relationship_pk": relationship.pk})
    assert client.post(delete).status_code == 302
    assert not DeclaredRelationship.objects.exists()
    assert ledger_actions()[-2:] == ["mediators.relationship.updated", "mediators.relationship.removed"]


# --- who may reach the staff pages -----------------------------------------------------------


def _staff_urls(profile: MediatorProfile, bank: Organisation) -> list[str]:
    qualification = profile.qualifications.get()
    relationship = DeclaredRelationship.objects.create(profile=profile, kind="past_employment", organisation=bank)
    return [
        reverse("mediators:profile_edit", kwargs={"mediator_pk": profile.pk}),
        reverse("mediators:profile_status", kwargs={"mediator_pk": profile.pk}),
        reverse("mediators:qualification_add", kwargs={"mediator_pk": profile.pk}),
        reverse("mediators:qualification_edit", kwargs={"qualification_pk": qualification.pk}),
        reverse("mediators:qualification_delete", kwargs={"qualification_pk": qualification.pk}),
        reverse("mediators:relationship_edit", kwargs={"relationship_pk": relationship.pk}),
        reverse("mediators:relationship_delete", kwargs={"relationship_pk": relationship.pk}),
    ]


@pytest.mark.parametrize("persona", ["other_case_manager", "other_mediator", "consumer", "bank_agent", "outsider"])
def test_staff_pages_of_a_profile_are_404_to_everyone_outside_its_centre_staff(
    client: Client, request: pytest.FixtureRequest, persona: str, profile: MediatorProfile, bank: Organisation
) -> None:
    urls = _staff_urls(profile, bank) + [
        reverse("mediators:profile_detail", kwargs={"mediator_pk": profile.pk}),
        reverse("mediators:relationship_add", kwargs={"mediator_pk": profile.pk}),
        reverse("mediators:availability", kwargs={"mediator_pk": profile.pk}),
    ]
    login(client, request.getfixturevalue(persona))
    before = (LedgerEntry.objects.count(), Qualification.objects.count(), DeclaredRelationship.objects.count())
    for url in urls:
        for method in ("get", "post"):
            assert getattr(client, method)(url).status_code == 404, f"{persona} {method} {url}"
    assert (LedgerEntry.objects.count(), Qualification.objects.count(), DeclaredRelationship.objects.count()) == before


def test_the_mediator_cannot_reach_the_staff_pages_of_their_own_profile(
    client: Client, mediator: User, profile: MediatorProfile, bank: Organisation
) -> None:
    login(client, mediator)
    for url in _staff_urls(profile, bank):
        for method in ("get", "post"):
            assert getattr(client, method)(url).status_code == 404, f"{method} {url}"


@pytest.mark.parametrize("persona", ["other_case_manager", "mediator", "consumer", "bank_agent", "outsider"])
def test_the_centre_list_and_creation_are_404_to_everyone_but_its_case_managers(
    client: Client, request: pytest.FixtureRequest, persona: str
) -> None:
    login(client, request.getfixturevalue(persona))
    if persona == "other_case_manager":
        # A case manager of another centre has pages of their own, without our mediators on them.
        assert client.get(reverse("mediators:profile_list")).context["rows"] == []
        return
    for name in ("profile_list", "profile_create"):
        for method in ("get", "post"):
            assert getattr(client, method)(reverse(f"mediators:{name}")).status_code == 404


def test_anonymous_visitors_are_sent_to_login(client: Client, profile: MediatorProfile) -> None:
    response = client.get(reverse("mediators:profile_detail", kwargs={"mediator_pk": profile.pk}))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_mediator_sees_their_own_profile_read_only(client: Client, mediator: User, profile: MediatorProfile) -> None:
    login(client, mediator)
    response = client.get(reverse("mediators:my_profile"))
    assert response["Location"] == reverse("mediators:profile_detail", kwargs={"mediator_pk": profile.pk})
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("mediators:profile_edit", kwargs={"mediator_pk": profile.pk}) not in html
    assert reverse("mediators:availability", kwargs={"mediator_pk": profile.pk}) in html
    assert page.context["status_form"] is None


def test_my_profile_is_404_for_someone_without_a_profile(client: Client, other_mediator: User, consumer: User) -> None:
    for user in (other_mediator, consumer):
        assert login(client, user).get(reverse("mediators:my_profile")).status_code == 404


# --- a mediator's own availability -----------------------------------------------------------


def test_a_mediator_adds_and_removes_their_own_unavailable_dates(
    client: Client, mediator: User, profile: MediatorProfile
) -> None:
    login(client, mediator)
    url = reverse("mediators:availability", kwargs={"mediator_pk": profile.pk})
    start, end = TODAY + D(days=5), TODAY + D(days=9)
    response = client.post(url, {"start_date": start.isoformat(), "end_date": end.isoformat(), "reason": "出差"})
    assert response.status_code == 302
    period = Unavailability.objects.get(profile=profile)
    assert (period.start_date, period.end_date, period.reason) == (start, end, "出差")
    assert period in client.get(url).context["periods"]
    delete = reverse("mediators:unavailable_delete", kwargs={"unavailable_pk": period.pk})
    assert client.post(delete).status_code == 302
    assert not Unavailability.objects.exists()
    assert ledger_actions()[-2:] == ["mediators.unavailability.added", "mediators.unavailability.removed"]


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"start_date": "2030-05-10", "end_date": "2030-05-01"}, "end_date"),
        ({"start_date": "", "end_date": "2030-05-01"}, "start_date"),
        ({"start_date": "2030-05-01", "end_date": "not a date"}, "end_date"),
    ],
)
def test_bad_unavailable_dates_are_field_errors_and_nothing_is_saved(
    client: Client, mediator: User, profile: MediatorProfile, post: dict[str, str], field: str
) -> None:
    url = reverse("mediators:availability", kwargs={"mediator_pk": profile.pk})
    response = login(client, mediator).post(url, post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not response.context["form"].non_field_errors()
    assert not Unavailability.objects.exists()


def test_a_mediator_cannot_touch_another_mediators_availability(
    client: Client, mediator: User, profile: MediatorProfile, other_profile: MediatorProfile
) -> None:
    period = Unavailability.objects.create(
        profile=other_profile, start_date=TODAY + D(days=1), end_date=TODAY + D(days=2)
    )
    login(client, mediator)
    url = reverse("mediators:availability", kwargs={"mediator_pk": other_profile.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"start_date": "2030-05-01", "end_date": "2030-05-02"}).status_code == 404
    delete = reverse("mediators:unavailable_delete", kwargs={"unavailable_pk": period.pk})
    assert client.get(delete).status_code == 404
    assert client.post(delete).status_code == 404
    assert list(Unavailability.objects.all()) == [period]


def test_the_case_manager_sees_upcoming_unavailability_on_the_profile(
    client: Client, case_manager: User, profile: MediatorProfile
) -> None:
    Unavailability.objects.create(profile=profile, start_date=TODAY - D(days=9), end_date=TODAY - D(days=1))
    upcoming = Unavailability.objects.create(profile=profile, start_date=TODAY, end_date=TODAY + D(days=3))
    response = login(client, case_manager).get(reverse("mediators:profile_detail", kwargs={"mediator_pk": profile.pk}))
    assert list(response.context["unavailable"]) == [upcoming]


# --- validity and assignability --------------------------------------------------------------


def test_has_valid_certificate_counts_no_expiry_and_the_expiry_day_itself(
    mediator: User, other_mediator: User, centre: Organisation
) -> None:
    open_ended = make_profile(mediator, centre, expires_on=None)
    expiring = make_profile(other_mediator, centre, expires_on=TODAY)
    assert roster.has_valid_certificate(open_ended)
    assert roster.has_valid_certificate(expiring)
    assert not roster.has_valid_certificate(expiring, on=TODAY + D(days=1))


def test_assignable_profiles_are_active_certified_mediators_of_the_centre(
    centre: Organisation, other_centre: Organisation
) -> None:
    def person(name: str, organisation: Organisation = centre, **fields: Any) -> User:
        return factories.user(name, Role.MEDIATOR, organisation, **fields)

    good = make_profile(person("good"), centre, expires_on=TODAY + D(days=30))
    make_profile(person("expired"), centre, expires_on=TODAY - D(days=1))
    make_profile(person("uncertified"), centre, certified=False)
    make_profile(person("suspended"), centre, status=MediatorProfile.Status.SUSPENDED)
    make_profile(person("retired"), centre, status=MediatorProfile.Status.RETIRED)
    make_profile(person("inactive", is_active=False), centre)
    make_profile(person("elsewhere", other_centre), other_centre)
    assert list(roster.assignable_profiles(centre)) == [good]
    assert list(roster.assignable_profiles(centre, on=TODAY + D(days=31))) == []


def test_a_mediator_with_one_expired_and_one_valid_certificate_stays_assignable(
    mediator: User, centre: Organisation
) -> None:
    profile = make_profile(mediator, centre, expires_on=TODAY - D(days=10))
    Qualification.objects.create(profile=profile, name="培训合格证书", expires_on=TODAY + D(days=10))
    assert list(roster.assignable_profiles(centre)) == [profile]


# --- the public roster -----------------------------------------------------------------------


@pytest.fixture
def pool(centre: Organisation, mediator: User, other_mediator: User) -> dict[str, MediatorProfile]:
    def person(name: str, real_name: str) -> User:
        return factories.user(name, Role.MEDIATOR, centre, real_name=real_name)

    return {
        "judge": make_profile(
            mediator,
            centre,
            title="退休法官",
            languages=("mandarin", "cantonese"),
            expertise=(("credit_card", ""),),
            region="广东省广州市",
            biography="擅长信用卡分期纠纷。",
            charges_fees=True,
            fee_note="小额案件免费",
            max_caseload=37,
        ),
        "lawyer": make_profile(
            other_mediator,
            centre,
            title="执业律师",
            languages=("mandarin",),
            expertise=(("insurance_claim", "claim_refused"),),
            region="广东省深圳市",
            biography="保险理赔争议。",
        ),
        "expired": make_profile(person("expired", "过期调解员"), centre, expires_on=TODAY - D(days=1)),
        "suspended": make_profile(person("suspended", "暂停调解员"), centre, status=MediatorProfile.Status.SUSPENDED),
        "uncertified": make_profile(person("uncertified", "无证调解员"), centre, certified=False),
    }


def test_the_public_roster_needs_no_login_and_lists_active_certified_mediators_only(
    client: Client, pool: dict[str, MediatorProfile]
) -> None:
    response = client.get(reverse("mediators:roster"))
    assert response.status_code == 200
    assert [card["pk"] for card in response.context["cards"]] == [pool["judge"].pk, pool["lawyer"].pk]
    html = response.content.decode()
    for absent in ("过期调解员", "暂停调解员", "无证调解员"):
        assert absent not in html


def test_the_public_roster_shows_what_art_5_requires(client: Client, pool: dict[str, MediatorProfile]) -> None:
    html = client.get(reverse("mediators:roster")).content.decode()
    for shown in ("退休法官", "信用卡", "粤语", "广东省广州市", "小额案件免费", "保险理赔 · 拒赔", "不收费"):
        assert shown in html


def test_the_public_roster_never_shows_contact_details_or_caseloads(
    client: Client, pool: dict[str, MediatorProfile]
) -> None:
    judge = pool["judge"]
    pages = [
        client.get(reverse("mediators:roster")).content.decode(),
        client.get(reverse("mediators:roster_profile", kwargs={"mediator_pk": judge.pk})).content.decode(),
    ]
    for html in pages:
        for profile in (pool["judge"], pool["lawyer"]):
            user = profile.user
            assert user.email not in html
            assert str(user.phone) not in html and str(user.phone)[3:] not in html
            assert f">{user.username}<" not in html
        assert "同时承办案件上限" not in html  # caseloads are not public
    card = client.get(reverse("mediators:roster")).context["cards"][0]
    assert not {"max_caseload", "phone", "email", "username", "user"} & set(card)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "法官"}, ["judge"]),
        ({"q": "理赔"}, ["lawyer"]),  # biography text
        ({"q": "吴调解员"}, ["judge"]),
        ({"category": "insurance_claim"}, ["lawyer"]),
        ({"category": "credit_card"}, ["judge"]),
        ({"category": "mortgage"}, []),
        ({"language": "cantonese"}, ["judge"]),
        ({"language": "mandarin"}, ["judge", "lawyer"]),
        ({"region": "广东省深圳市"}, ["lawyer"]),
        ({"language": "mandarin", "region": "广东省广州市"}, ["judge"]),
    ],
)
def test_the_public_roster_filters(
    client: Client, pool: dict[str, MediatorProfile], query: dict[str, str], expected: list[str]
) -> None:
    response = client.get(reverse("mediators:roster"), query)
    assert response.context["form"].is_valid()
    assert [card["pk"] for card in response.context["cards"]] == [pool[key].pk for key in expected]


def test_the_region_filter_offers_only_regions_on_the_roster(client: Client, pool: dict[str, MediatorProfile]) -> None:
    pool["suspended"].region = "西藏自治区拉萨市"
    pool["suspended"].save()
    choices = dict(client.get(reverse("mediators:roster")).context["form"].fields["region"].choices)
    assert "广东省深圳市" in choices and "西藏自治区拉萨市" not in choices


def test_the_public_profile_page_shows_a_roster_mediator_and_404s_for_others(
    client: Client, pool: dict[str, MediatorProfile]
) -> None:
    judge = pool["judge"]
    response = client.get(reverse("mediators:roster_profile", kwargs={"mediator_pk": judge.pk}))
    assert response.status_code == 200
    assert "擅长信用卡分期纠纷" in response.content.decode()
    for key in ("expired", "suspended", "uncertified"):
        url = reverse("mediators:roster_profile", kwargs={"mediator_pk": pool[key].pk})
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert client.get(reverse("mediators:roster_profile", kwargs={"mediator_pk": 999999})).status_code == 404


def test_the_public_profile_lists_only_valid_qualifications(client: Client, pool: dict[str, MediatorProfile]) -> None:
    judge = pool["judge"]
    Qualification.objects.create(profile=judge, name="已过期的旧证书", expires_on=TODAY - D(days=100))
    html = client.get(reverse("mediators:roster_profile", kwargs={"mediator_pk": judge.pk})).content.decode()
    assert "人民调解员资格证书" in html and "已过期的旧证书" not in html


def _roster_queries(client: Client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("mediators:roster"))
    assert response.status_code == 200
    return len(response.context["cards"]), len(queries)


def test_the_roster_query_count_does_not_grow_with_the_mediators_shown(client: Client, centre: Organisation) -> None:
    def add(count: int, start: int) -> None:
        for serial in range(start, start + count):
            user = factories.user(f"pool{serial}", Role.MEDIATOR, centre, real_name=f"调解员{serial:03d}")
            profile = make_profile(user, centre, languages=("mandarin", "cantonese"))
            Expertise.objects.create(profile=profile, product_category="payment", issue_type="fraud")
            Qualification.objects.create(profile=profile, name="培训证书", expires_on=TODAY + D(days=99))

    add(2, 0)
    few = _roster_queries(client)
    add(16, 2)
    many = _roster_queries(client)
    assert (few[0], many[0]) == (2, 18)
    assert many[1] == few[1]


def test_the_roster_is_paginated(client: Client, centre: Organisation) -> None:
    for serial in range(25):
        make_profile(factories.user(f"pool{serial}", Role.MEDIATOR, centre, real_name=f"调解员{serial:03d}"), centre)
    first = client.get(reverse("mediators:roster"), {"language": "mandarin"})
    assert len(first.context["cards"]) == 20
    assert "language=mandarin&amp;page=2" in first.content.decode()
    second = client.get(reverse("mediators:roster"), {"language": "mandarin", "page": 2})
    assert len(second.context["cards"]) == 5


# --- demo data and admin ---------------------------------------------------------------------


def test_load_demo_pool_gives_rich_profiles_once(
    centre: Organisation, mediator: User, other_mediator: User, bank: Organisation
) -> None:
    roster.load_demo_pool(centre, [mediator, other_mediator], [bank])
    counts = [
        model.objects.count()
        for model in (MediatorProfile, MediatorLanguage, Expertise, Qualification, DeclaredRelationship, LedgerEntry)
    ]
    roster.load_demo_pool(centre, [mediator, other_mediator], [bank])
    assert [
        model.objects.count()
        for model in (MediatorProfile, MediatorLanguage, Expertise, Qualification, DeclaredRelationship, LedgerEntry)
    ] == counts
    for user in (mediator, other_mediator):
        profile = user.mediator_profile
        assert "cantonese" in profile.languages.values_list("language", flat=True)
        assert profile.expertise.exists()
        assert profile.qualifications.filter(expires_on__year=TODAY.year + 1).exists()
        assert profile in roster.assignable_profiles(centre)
    # The relationship goes to the last mediator, not the first who handles the demo cases.
    assert not mediator.mediator_profile.relationships.exists()
    relationship = other_mediator.mediator_profile.relationships.get()
    assert relationship.kind == DeclaredRelationship.Kind.PAST_EMPLOYMENT and relationship.organisation == bank
    assert relationship.end_date is not None and relationship.end_date.year == TODAY.year - 2


@pytest.mark.parametrize("model", ["mediatorprofile", "rating", "mediatorcomplaint"])
def test_admin_changelists_render(client: Client, admin_user: User, profile: MediatorProfile, model: str) -> None:
    response = login(client, admin_user).get(reverse(f"admin:mediators_{model}_changelist"))
    assert response.status_code == 200


def test_admin_profile_page_has_the_inlines(client: Client, admin_user: User, profile: MediatorProfile) -> None:
    response = login(client, admin_user).get(reverse("admin:mediators_mediatorprofile_change", args=[profile.pk]))
    assert response.status_code == 200
    prefixes = {formset.formset.prefix for formset in response.context["inline_admin_formsets"]}
    assert prefixes == {"expertise", "languages", "qualifications", "relationships", "unavailable"}
