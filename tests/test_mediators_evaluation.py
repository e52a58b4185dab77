"""Ratings by the parties, complaints about mediators (在线调解规则 Art 29), per-mediator figures."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mediation import services
from mediation.models import (
    Case,
    CaseState,
    CaseTransition,
    LedgerEntry,
    Notification,
    Organisation,
    Role,
    TerminationReason,
    User,
)
from mediators import evaluation
from mediators.models import MediatorComplaint, Rating
from tests import factories
from tests.test_mediators_caseload import choosing_case, pool_member

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
CASE_PAGE_OUTSIDERS = [
    "outsider",
    "other_consumer",
    "other_bank_agent",
    "other_case_manager",
    "court_clerk",
    "regulator",
    # On the case, but not a party: neither rates nor complains.
    "mediator",
    "case_manager",
]
COMPLAINT_PAGE_OUTSIDERS = [
    "outsider",
    "consumer",
    "bank_agent",
    "mediator",
    "other_case_manager",
    "court_clerk",
    "regulator",
]


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def pool(mediator: User, other_mediator: User, centre: Organisation) -> None:
    pool_member(mediator, centre)
    pool_member(other_mediator, centre)


@pytest.fixture
def new_case(make_case: Callable[..., Case], case_manager: User, bank_agent: User, pool: None) -> Callable[..., Case]:
    def make(**fields: Any) -> Case:
        return choosing_case(make_case, case_manager, bank_agent, **fields)

    return make


@pytest.fixture
def mediating(new_case: Callable[..., Case], case_manager: User, mediator: User) -> Callable[..., Case]:
    def make() -> Case:
        case = new_case()
        services.assign_mediator(case, actor=case_manager, mediator=mediator)
        return factories.accept_assignment(case, mediator=mediator)

    return make


@pytest.fixture
def agreed(mediating: Callable[..., Case], case_manager: User) -> Callable[..., Case]:
    """A case closed after its mediation agreement took effect."""

    def make() -> Case:
        case = services.record_agreement_effective(mediating(), actor=case_manager)
        return services.close_case(case, actor=case_manager, reason="协议已履行完毕")

    return make


@pytest.fixture
def closed_case(agreed: Callable[..., Case]) -> Case:
    return agreed()


def rate_url(case: Case) -> str:
    return reverse("mediators:case_rate", kwargs={"pk": case.pk})


def complain_url(case: Case) -> str:
    return reverse("mediators:case_complain", kwargs={"pk": case.pk})


def detail_url(complaint: MediatorComplaint) -> str:
    return reverse("mediators:complaint_detail", kwargs={"complaint_pk": complaint.pk})


# --- ratings ---------------------------------------------------------------------------------


def test_consumer_rates_the_mediator_once_the_case_is_closed(
    client: Client, consumer: User, mediator: User, closed_case: Case
) -> None:
    login(client, consumer)
    page = client.get(rate_url(closed_case))
    assert page.status_code == 200
    assert list(page.context["form"].fields["mediator"].queryset) == [mediator]
    response = client.post(rate_url(closed_case), {"mediator": mediator.pk, "score": "4", "comment": "耐心细致。"})
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", kwargs={"pk": closed_case.pk})
    rating = Rating.objects.get(case=closed_case)
    assert (rating.mediator, rating.party, rating.score, rating.comment) == (mediator, consumer, 4, "耐心细致。")
    entry = LedgerEntry.objects.get(case=closed_case, action="mediators.rating.recorded")
    assert entry.data["score"] == 4 and entry.actor == consumer


def test_a_terminated_mediation_can_be_rated_too(
    client: Client, consumer: User, mediator: User, mediating: Callable[..., Case]
) -> None:
    case = services.terminate_mediation(mediating(), actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    response = login(client, consumer).post(rate_url(case), {"mediator": mediator.pk, "score": "2"})
    assert response.status_code == 302
    assert Rating.objects.get(case=case).score == 2


def test_rating_twice_is_refused(client: Client, consumer: User, mediator: User, closed_case: Case) -> None:
    login(client, consumer)
    client.post(rate_url(closed_case), {"mediator": mediator.pk, "score": "5"})
    response = client.post(rate_url(closed_case), {"mediator": mediator.pk, "score": "1"})
    assert response.status_code == 400
    assert response.context["form"].errors["mediator"] == ["您已评价过该调解员，或该调解员未主持本案调解。"]
    assert list(Rating.objects.values_list("score", flat=True)) == [5]


def test_the_service_refuses_a_second_rating_even_past_the_form(
    consumer: User, mediator: User, closed_case: Case
) -> None:
    evaluation.rate_mediator(closed_case, party=consumer, mediator=mediator, score=5)
    with pytest.raises(services.CaseError, match="已评价过"):
        evaluation.rate_mediator(closed_case, party=consumer, mediator=mediator, score=1)
    assert Rating.objects.count() == 1


def test_the_institution_rates_once_as_a_side_whichever_agent_does_it(
    client: Client, bank_agent: User, bank_supervisor: User, mediator: User, closed_case: Case
) -> None:
    assert (
        login(client, bank_agent).post(rate_url(closed_case), {"mediator": mediator.pk, "score": "3"}).status_code
        == 302
    )
    login(client, bank_supervisor)
    assert client.get(rate_url(closed_case)).context["mediators"] == []
    response = client.post(rate_url(closed_case), {"mediator": mediator.pk, "score": "1"})
    assert response.status_code == 400
    with pytest.raises(services.CaseError):
        evaluation.rate_mediator(closed_case, party=bank_supervisor, mediator=mediator, score=1)
    assert list(Rating.objects.values_list("party__username", "score")) == [("bank_agent", 3)]


def test_rating_before_the_case_is_closed_is_refused(
    client: Client, consumer: User, mediator: User, mediating: Callable[..., Case]
) -> None:
    case = mediating()
    login(client, consumer)
    page = client.get(rate_url(case))
    assert page.status_code == 200
    assert "案件结案或调解终止后方可评价调解员。" in page.content.decode()
    response = client.post(rate_url(case), {"mediator": mediator.pk, "score": "5"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["案件结案或调解终止后方可评价调解员。"]
    assert not Rating.objects.exists()


@pytest.mark.parametrize("score", ["7", "0", "abc", ""])
def test_a_bad_score_is_a_field_error_and_nothing_is_saved(
    client: Client, consumer: User, mediator: User, closed_case: Case, score: str
) -> None:
    response = login(client, consumer).post(rate_url(closed_case), {"mediator": mediator.pk, "score": score})
    assert response.status_code == 400
    assert "score" in response.context["form"].errors
    assert not Rating.objects.exists()
    assert not LedgerEntry.objects.filter(action="mediators.rating.recorded").exists()


def test_a_mediator_who_never_accepted_is_not_offered_for_rating(
    client: Client, consumer: User, case_manager: User, mediator: User, new_case: Callable[..., Case]
) -> None:
    case = new_case()
    services.assign_mediator(case, actor=case_manager, mediator=mediator)
    services.terminate_mediation(case, actor=case_manager, reason=TerminationReason.WITHDRAWN)
    login(client, consumer)
    page = client.get(rate_url(case))
    assert page.context["mediators"] == []
    assert "本案没有可评价的调解员" in page.content.decode()
    with pytest.raises(services.CaseError, match="未主持本案调解"):
        evaluation.rate_mediator(case, party=consumer, mediator=mediator, score=4)


def test_every_mediator_who_served_is_rated_separately(
    client: Client,
    consumer: User,
    case_manager: User,
    mediator: User,
    other_mediator: User,
    mediating: Callable[..., Case],
) -> None:
    case = mediating()
    services.add_co_mediator(case, actor=case_manager, mediator=other_mediator)
    services.terminate_mediation(case, actor=mediator, reason=TerminationReason.UNREACHABLE)
    login(client, consumer)
    assert set(client.get(rate_url(case)).context["mediators"]) == {mediator, other_mediator}
    client.post(rate_url(case), {"mediator": mediator.pk, "score": "5"})
    assert client.get(rate_url(case)).context["mediators"] == [other_mediator]
    client.post(rate_url(case), {"mediator": other_mediator.pk, "score": "4"})
    assert Rating.objects.filter(case=case).count() == 2


@pytest.mark.parametrize("persona", CASE_PAGE_OUTSIDERS)
def test_rating_page_is_404_for_anyone_not_a_party(
    client: Client, request: pytest.FixtureRequest, persona: str, mediator: User, closed_case: Case
) -> None:
    login(client, request.getfixturevalue(persona))
    assert client.get(rate_url(closed_case)).status_code == 404
    assert client.post(rate_url(closed_case), {"mediator": mediator.pk, "score": "5"}).status_code == 404
    assert not Rating.objects.exists()


# --- complaints filed by the parties ---------------------------------------------------------


def test_consumer_files_a_complaint_and_the_mediator_is_not_told_who(
    client: Client,
    consumer: User,
    case_manager: User,
    mediator: User,
    mediating: Callable[..., Case],
    django_capture_on_commit_callbacks: Any,
) -> None:
    case = mediating()
    login(client, consumer)
    assert client.get(complain_url(case)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            complain_url(case),
            {"mediator": mediator.pk, "ground": MediatorComplaint.Ground.COERCION, "text": "多次催促我接受方案。"},
        )
    assert response.status_code == 302
    complaint = MediatorComplaint.objects.get()
    assert (complaint.case, complaint.mediator, complaint.filed_by) == (case, mediator, consumer)
    assert complaint.status == MediatorComplaint.Status.OPEN
    entry = LedgerEntry.objects.get(case=case, action="mediators.complaint.filed")
    assert entry.data["ground"] == "coercion" and entry.data["mediator"] == mediator.pk
    to_mediator = Notification.objects.get(recipient=mediator, kind="mediators.complaint.filed")
    assert case.number in to_mediator.message and "强迫调解" in to_mediator.message
    for trace in (consumer.display_name, consumer.username, "多次催促"):
        assert trace not in to_mediator.message
    assert Notification.objects.filter(recipient=case_manager, kind="mediators.complaint.filed").exists()


def test_the_institution_may_complain_at_any_time_even_after_the_case_closed(
    client: Client, bank_agent: User, mediator: User, closed_case: Case
) -> None:
    response = login(client, bank_agent).post(
        complain_url(closed_case),
        {"mediator": mediator.pk, "ground": MediatorComplaint.Ground.LEAKING, "text": "调解内容被泄露给媒体。"},
    )
    assert response.status_code == 302
    assert MediatorComplaint.objects.get().filed_by == bank_agent


def test_a_mediator_already_taken_off_the_case_can_still_be_complained_about(
    client: Client, consumer: User, case_manager: User, mediator: User, mediating: Callable[..., Case]
) -> None:
    case = mediating()
    services.remove_mediator(case, actor=case_manager, mediator=mediator, reason="当事人申请更换")
    response = login(client, consumer).post(
        complain_url(case), {"mediator": mediator.pk, "ground": MediatorComplaint.Ground.FAVOURS, "text": "收受礼品。"}
    )
    assert response.status_code == 302
    assert MediatorComplaint.objects.get().mediator == mediator


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ground": "coercion", "text": ""}, "text"),
        ({"ground": "bribery", "text": "说明"}, "ground"),
        ({"ground": "coercion", "text": "说明", "mediator": "other"}, "mediator"),
    ],
)
def test_bad_complaint_input_is_a_field_error_and_nothing_is_filed(
    client: Client,
    consumer: User,
    mediator: User,
    other_mediator: User,
    mediating: Callable[..., Case],
    data: dict[str, str],
    field: str,
) -> None:
    case = mediating()
    # other_mediator is in the pool but was never on this case.
    post = {"mediator": str(other_mediator.pk if data.pop("mediator", "") == "other" else mediator.pk), **data}
    response = login(client, consumer).post(complain_url(case), post)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not MediatorComplaint.objects.exists()
    assert not LedgerEntry.objects.filter(action="mediators.complaint.filed").exists()


@pytest.mark.parametrize("persona", CASE_PAGE_OUTSIDERS)
def test_complaint_page_is_404_for_anyone_not_a_party(
    client: Client, request: pytest.FixtureRequest, persona: str, mediator: User, mediating: Callable[..., Case]
) -> None:
    case = mediating()
    login(client, request.getfixturevalue(persona))
    assert client.get(complain_url(case)).status_code == 404
    post = {"mediator": mediator.pk, "ground": "coercion", "text": "说明"}
    assert client.post(complain_url(case), post).status_code == 404
    assert not MediatorComplaint.objects.exists()


# --- complaints handled by the centre --------------------------------------------------------


@pytest.fixture
def complaint(consumer: User, mediator: User, mediating: Callable[..., Case]) -> MediatorComplaint:
    return evaluation.file_complaint(
        mediating(), party=consumer, mediator=mediator, ground=MediatorComplaint.Ground.LEAKING, text="泄露了我的住址。"
    )


def test_case_manager_lists_the_centres_complaints_open_first(
    client: Client, case_manager: User, consumer: User, complaint: MediatorComplaint, closed_case: Case, mediator: User
) -> None:
    handled = evaluation.file_complaint(
        closed_case, party=consumer, mediator=mediator, ground=MediatorComplaint.Ground.OTHER, text="态度差。"
    )
    evaluation.decide_complaint(handled, actor=case_manager, upheld=False, resolution="经核查不属实。")
    newer_open = evaluation.file_complaint(
        closed_case, party=consumer, mediator=mediator, ground=MediatorComplaint.Ground.COERCION, text="强迫。"
    )
    response = login(client, case_manager).get(reverse("mediators:complaint_list"))
    assert response.status_code == 200
    assert [c.pk for c in response.context["complaints"]] == [newer_open.pk, complaint.pk, handled.pk]
    assert complaint.case.number in response.content.decode()


def test_case_manager_of_another_centre_sees_none_of_them(
    client: Client, other_case_manager: User, complaint: MediatorComplaint
) -> None:
    login(client, other_case_manager)
    response = client.get(reverse("mediators:complaint_list"))
    assert response.status_code == 200
    assert list(response.context["complaints"]) == []
    assert complaint.case.number not in response.content.decode()
    assert client.get(detail_url(complaint)).status_code == 404
    assert client.post(detail_url(complaint), {"decision": "upheld", "resolution": "成立"}).status_code == 404


def test_case_manager_upholds_a_complaint_and_both_sides_are_told(
    client: Client,
    case_manager: User,
    consumer: User,
    mediator: User,
    complaint: MediatorComplaint,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, case_manager)
    page = client.get(detail_url(complaint))
    assert page.status_code == 200 and "泄露了我的住址。" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            detail_url(complaint), {"decision": "upheld", "resolution": "经核查属实，暂停其调解资格三个月。"}
        )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == MediatorComplaint.Status.UPHELD
    assert complaint.handled_by == case_manager and complaint.handled_at is not None
    assert complaint.resolution == "经核查属实，暂停其调解资格三个月。"
    entry = LedgerEntry.objects.get(action="mediators.complaint.decided")
    assert entry.data == {"complaint": complaint.pk, "status": "upheld", "resolution": complaint.resolution}
    to_consumer = Notification.objects.get(recipient=consumer, kind="mediators.complaint.decided")
    assert "投诉成立" in to_consumer.message and "暂停其调解资格" in to_consumer.message
    to_mediator = Notification.objects.get(recipient=mediator, kind="mediators.complaint.decided")
    assert "投诉成立" in to_mediator.message and consumer.display_name not in to_mediator.message


def test_a_decided_complaint_cannot_be_decided_again(
    client: Client, case_manager: User, complaint: MediatorComplaint
) -> None:
    login(client, case_manager)
    client.post(detail_url(complaint), {"decision": "dismissed", "resolution": "不属实。"})
    response = client.post(detail_url(complaint), {"decision": "upheld", "resolution": "改为成立。"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["该投诉已处理完毕。"]
    complaint.refresh_from_db()
    assert complaint.status == MediatorComplaint.Status.DISMISSED
    assert LedgerEntry.objects.filter(action="mediators.complaint.decided").count() == 1


@pytest.mark.parametrize(
    ("data", "field"), [({"decision": "upheld", "resolution": ""}, "resolution"), ({"resolution": "x"}, "decision")]
)
def test_a_decision_without_reasons_or_outcome_is_a_field_error(
    client: Client, case_manager: User, complaint: MediatorComplaint, data: dict[str, str], field: str
) -> None:
    response = login(client, case_manager).post(detail_url(complaint), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    complaint.refresh_from_db()
    assert complaint.status == MediatorComplaint.Status.OPEN


@pytest.mark.parametrize("persona", COMPLAINT_PAGE_OUTSIDERS)
def test_complaint_pages_are_404_for_anyone_but_the_centres_case_managers(
    client: Client, request: pytest.FixtureRequest, persona: str, complaint: MediatorComplaint
) -> None:
    login(client, request.getfixturevalue(persona))
    assert client.get(detail_url(complaint)).status_code == 404
    assert client.post(detail_url(complaint), {"decision": "upheld", "resolution": "成立"}).status_code == 404
    if persona != "other_case_manager":
        assert client.get(reverse("mediators:complaint_list")).status_code == 404
        assert client.post(reverse("mediators:complaint_list")).status_code == 404
    complaint.refresh_from_db()
    assert complaint.status == MediatorComplaint.Status.OPEN


# --- figures ---------------------------------------------------------------------------------


def _at(day: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=SHANGHAI)


def _set_history(case: Case, accepted: str, ended: str | None = None) -> None:
    CaseTransition.objects.filter(case=case, to_state=CaseState.MEDIATING).update(at=_at(accepted))
    if ended and case.agreement_effective_at is not None:
        Case.objects.filter(pk=case.pk).update(agreement_effective_at=_at(ended))
    elif ended:
        CaseTransition.objects.filter(case=case, to_state=CaseState.TERMINATED).update(at=_at(ended))


@pytest.fixture
def track_record(
    agreed: Callable[..., Case],
    mediating: Callable[..., Case],
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
) -> dict[str, Case]:
    """The mediator: one agreement in 4 working days, one termination in 10, one still mediating."""
    success = agreed()
    failure = services.terminate_mediation(mediating(), actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    ongoing = mediating()
    # Mon 2 Sep 2024 → Fri 6 Sep: 4 working days.
    _set_history(success, "2024-09-02", "2024-09-06")
    # Mon 2 Sep → Mon 16 Sep 2024: Sat 14 Sep is a 调休 workday, 15–17 Sep the Mid-Autumn holiday: 10.
    _set_history(failure, "2024-09-02", "2024-09-16")
    evaluation.rate_mediator(success, party=consumer, mediator=mediator, score=5)
    evaluation.rate_mediator(success, party=bank_agent, mediator=mediator, score=2)
    evaluation.file_complaint(ongoing, party=consumer, mediator=mediator, ground="coercion", text="强迫。")
    upheld = evaluation.file_complaint(failure, party=consumer, mediator=mediator, ground="leaking", text="泄露。")
    evaluation.decide_complaint(upheld, actor=case_manager, upheld=True, resolution="属实。")
    return {"success": success, "failure": failure, "ongoing": ongoing}


def test_figures_count_outcomes_working_days_ratings_and_complaints(
    client: Client, case_manager: User, mediator: User, other_mediator: User, track_record: dict[str, Case]
) -> None:
    response = login(client, case_manager).get(reverse("mediators:mediator_figures"))
    assert response.status_code == 200
    rows = {row.mediator: row for row in response.context["figures"]}
    assert set(rows) == {mediator, other_mediator}
    row = rows[mediator]
    assert (row.handled, row.agreements, row.terminated) == (3, 1, 1)
    assert row.success_rate == 0.5
    assert sorted(row.working_days) == [4, 10]
    assert row.median_working_days == 7
    assert (row.rating_average, row.rating_count) == (3.5, 2)
    assert (row.complaints_open, row.complaints_upheld, row.complaints_total) == (1, 1, 2)
    idle = rows[other_mediator]
    assert (idle.handled, idle.success_rate, idle.median_working_days, idle.rating_average) == (0, None, None, None)
    page = response.content.decode()
    assert "50%" in page and "3.50" in page


def test_a_mediator_removed_before_the_end_is_not_credited_with_the_case(
    case_manager: User, mediator: User, other_mediator: User, mediating: Callable[..., Case]
) -> None:
    case = mediating()
    services.add_co_mediator(case, actor=case_manager, mediator=other_mediator)
    services.remove_mediator(case, actor=case_manager, mediator=other_mediator, reason="回避")
    figures = {f.mediator: f for f in evaluation.mediator_figures(User.objects.filter(role=Role.MEDIATOR))}
    assert figures[mediator].handled == 1
    assert figures[other_mediator].handled == 0


def test_figures_export_as_csv_with_a_byte_order_mark(
    client: Client, case_manager: User, mediator: User, track_record: dict[str, Case]
) -> None:
    response = login(client, case_manager).get(reverse("mediators:mediator_figures_csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["调解组织", "调解员", "承办案件"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["吴调解员"] == [
        "广东金融消费纠纷调解中心",
        "吴调解员",
        "3",
        "1",
        "1",
        "50.0%",
        "7.0",
        "3.50",
        "2",
        "1",
        "1",
        "2",
    ]
    assert by_name["郑调解员"][2:] == ["0", "0", "0", "", "", "", "0", "0", "0", "0"]


def test_a_formula_like_name_is_defused_in_the_csv(client: Client, case_manager: User, centre: Organisation) -> None:
    pool_member(factories.user("formula", Role.MEDIATOR, centre), centre, display_name="=HYPERLINK(1)")
    body = login(client, case_manager).get(reverse("mediators:mediator_figures_csv")).content.decode()
    assert "'=HYPERLINK(1)" in body


def test_case_managers_see_their_centre_and_regulators_every_centre(
    client: Client,
    case_manager: User,
    other_case_manager: User,
    regulator: User,
    mediator: User,
    other_centre: Organisation,
    pool: None,
) -> None:
    stranger = factories.user("foreign_pool_mediator", Role.MEDIATOR, other_centre, real_name="外地调解员")
    pool_member(stranger, other_centre)
    url = reverse("mediators:mediator_figures")
    mine = {row.mediator for row in login(client, case_manager).get(url).context["figures"]}
    assert mediator in mine and stranger not in mine
    theirs = {row.mediator for row in login(client, other_case_manager).get(url).context["figures"]}
    assert theirs == {stranger}
    response = login(client, regulator).get(url)
    assert response.status_code == 200
    assert {mediator, stranger} <= {row.mediator for row in response.context["figures"]}
    assert "浙江金融纠纷调解中心" in response.content.decode()
    assert login(client, regulator).get(reverse("mediators:mediator_figures_csv")).status_code == 200


def test_figures_query_count_does_not_grow_with_mediators_or_cases(
    client: Client, case_manager: User, centre: Organisation, track_record: dict[str, Case], agreed: Any
) -> None:
    login(client, case_manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("mediators:mediator_figures")).status_code == 200
    for n in range(3):
        pool_member(factories.user(f"pool_{n}", Role.MEDIATOR, centre), centre)
        agreed()
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("mediators:mediator_figures"))
    assert len(response.context["figures"]) == 5
    assert len(many) == len(few)


@pytest.mark.parametrize("persona", ["outsider", "consumer", "bank_agent", "mediator", "court_clerk"])
def test_figures_are_404_for_parties_mediators_and_courts(
    client: Client, request: pytest.FixtureRequest, persona: str
) -> None:
    login(client, request.getfixturevalue(persona))
    for name in ("mediators:mediator_figures", "mediators:mediator_figures_csv"):
        assert client.get(reverse(name)).status_code == 404
        assert client.post(reverse(name)).status_code == 404
