import csv
import datetime
import io
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediation import services
from mediation.models import Case, ClockKind, Deadline, InstitutionAnswer, Role
from mediation.views.statistics import median_from_histogram
from tests import factories


def login(client, user):
    client.force_login(user)
    return client


def transfer_and_answer(case, case_manager, agent, days):
    """Transfer ``case`` and have ``agent`` answer it ``days`` days after the transfer."""
    services.accept_case(case, actor=case_manager)
    services.transfer_to_institution(case, actor=case_manager)
    Deadline.objects.filter(case=case, kind=ClockKind.INSTITUTION_ANSWER).update(
        start_date=timezone.localdate() - datetime.timedelta(days=days)
    )
    services.answer_complaint(case, agent=agent, outcome="not_resolved", text="维持原处理意见。")


@pytest.fixture
def hot_spots(make_case, case_manager, bank_branch, insurer, bank_agent, branch_agent, other_consumer, other_centre):
    """Four complaints at the bank (one at its branch, one a repeat), one at the insurer, one elsewhere."""
    first = make_case()
    transfer_and_answer(first, case_manager, bank_agent, days=4)
    repeat = make_case()
    transfer_and_answer(repeat, case_manager, bank_agent, days=20)
    at_branch = make_case(consumer=other_consumer, institution=bank_branch)
    transfer_and_answer(at_branch, case_manager, branch_agent, days=10)
    transferred_only = make_case(consumer=other_consumer, product_category="mortgage", issue_type="early_repayment")
    services.accept_case(transferred_only, actor=case_manager)
    services.transfer_to_institution(transferred_only, actor=case_manager)
    at_insurer = make_case(institution=insurer, product_category="insurance_claim", issue_type="claim_refused")
    other_centres = make_case(centre=other_centre, product_category="deposit", issue_type="interest")
    return {
        "first": first,
        "repeat": repeat,
        "at_branch": at_branch,
        "transferred_only": transferred_only,
        "at_insurer": at_insurer,
        "other_centres": other_centres,
    }


def rows_by_label(rows):
    return {row.label: row for row in rows}


def test_regulator_sees_hot_spots_by_product_and_head_office_with_answer_times(client, regulator, hot_spots):
    response = login(client, regulator).get(reverse("staff:statistics"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.overall.total == 6
    assert report.overall.repeat == 1
    assert report.overall.transferred == 4
    assert report.overall.answered == 3
    assert report.overall.median_days == 10
    assert report.overall.within_limit_share == pytest.approx(2 / 3)

    by_category = rows_by_label(report.by_category)
    assert by_category["信用卡"].total == 3
    assert by_category["信用卡"].repeat == 1
    assert by_category["信用卡"].answer_days == Counter({4: 1, 20: 1, 10: 1})
    assert by_category["住房按揭贷款"].transferred == 1
    assert by_category["住房按揭贷款"].answered == 0
    assert by_category["住房按揭贷款"].median_days is None
    assert report.by_category[0].label == "信用卡"  # the hot spot comes first

    by_institution = rows_by_label(report.by_institution)
    assert "华南商业银行天河支行" not in by_institution  # folded into the head office
    assert by_institution["华南商业银行"].total == 5  # incl. the complaint at the other centre
    assert by_institution["华南商业银行"].answered == 3
    assert by_institution["平安健康保险"].total == 1

    by_state = rows_by_label(report.by_state)
    assert by_state["机构已答复"].total == 3
    assert by_state["已转办机构"].total == 1
    assert by_state["已登记"].total == 2


def test_statistics_page_shows_aggregates_but_never_a_case(client, regulator, hot_spots):
    body = login(client, regulator).get(reverse("staff:statistics")).content.decode()
    assert "华南商业银行" in body and "信用卡" in body
    for case in hot_spots.values():
        assert case.number not in body
        assert reverse("case_detail", kwargs={"pk": case.pk}) not in body
    assert "张三" not in body and "李四" not in body


def test_case_manager_sees_only_their_centres_statistics(client, case_manager, other_case_manager, hot_spots):
    report = login(client, case_manager).get(reverse("staff:statistics")).context["report"]
    assert report.overall.total == 5
    report = login(client, other_case_manager).get(reverse("staff:statistics")).context["report"]
    assert report.overall.total == 1
    assert [row.label for row in report.by_category] == ["储蓄存款"]


def test_statistics_default_to_the_last_twelve_months_and_accept_a_range(client, regulator, hot_spots):
    old = hot_spots["at_insurer"]
    two_years_ago = timezone.now() - datetime.timedelta(days=730)
    Case.objects.filter(pk=old.pk).update(created_at=two_years_ago)
    login(client, regulator)
    report = client.get(reverse("staff:statistics")).context["report"]
    assert report.end == timezone.localdate()
    assert (report.end - report.start).days in (364, 365)
    assert report.overall.total == 5
    day = timezone.localdate(two_years_ago)
    report = client.get(reverse("staff:statistics"), {"start": day.isoformat(), "end": day.isoformat()}).context[
        "report"
    ]
    assert report.overall.total == 1
    assert [row.label for row in report.by_institution] == ["平安健康保险"]


def test_statistics_with_start_after_end_is_a_field_error(client, regulator, hot_spots):
    response = login(client, regulator).get(reverse("staff:statistics"), {"start": "2025-05-01", "end": "2025-01-01"})
    assert response.status_code == 400
    assert "start" in response.context["form"].errors
    assert response.context["report"] is None


def test_csv_export_has_the_same_figures(client, regulator, hot_spots):
    response = login(client, regulator).get(reverse("staff:statistics_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["维度", "项目", "投诉件数"]
    assert rows[1][0] == "合计"
    assert rows[1][2:] == ["6", "1", "4", "3", "10", "66.7%"]
    institution_rows = {row[1]: row for row in rows if row[0] == "被投诉机构"}
    assert institution_rows["华南商业银行"][2:] == ["5", "1", "4", "3", "10", "66.7%"]
    assert institution_rows["平安健康保险"][2:] == ["1", "0", "0", "0", "", ""]
    assert ["案件状态", "机构已答复", "3", "", "", "", "", ""] in rows
    for case in hot_spots.values():
        assert case.number not in text


def test_statistics_queries_do_not_grow_with_the_number_of_cases(
    client, regulator, make_case, case_manager, bank_agent
):
    login(client, regulator)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("staff:statistics")).status_code == 200
        return len(queries)

    transfer_and_answer(make_case(), case_manager, bank_agent, days=3)
    few = count_queries()
    for serial in range(6):
        person = factories.user(f"stat{serial}", Role.CONSUMER)
        transfer_and_answer(make_case(consumer=person), case_manager, bank_agent, days=serial)
    assert InstitutionAnswer.objects.count() == 7
    assert count_queries() == few


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "mediator", "court_clerk", "outsider"])
def test_statistics_are_404_for_parties_mediators_and_courts(client, request, persona, hot_spots):
    login(client, request.getfixturevalue(persona))
    assert client.get(reverse("staff:statistics")).status_code == 404
    assert client.get(reverse("staff:statistics_csv")).status_code == 404


def test_statistics_require_login(client):
    response = client.get(reverse("staff:statistics"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_regulator_gets_404_on_every_case_page(client, regulator, hot_spots):
    login(client, regulator)
    for case in hot_spots.values():
        assert client.get(reverse("case_detail", kwargs={"pk": case.pk})).status_code == 404
        assert client.post(reverse("staff:case_close", kwargs={"pk": case.pk}), {"reason": "x"}).status_code == 404
    assert client.get(reverse("staff:case_list")).status_code == 404
    assert client.get(reverse("staff:intake")).status_code == 404


@pytest.mark.parametrize(
    ("histogram", "median"),
    [({}, None), ({5: 3}, 5), ({1: 1, 3: 1}, 2), ({1: 1, 2: 1, 10: 1}, 2), ({0: 2, 30: 1, 40: 1}, 15)],
)
def test_median_from_histogram(histogram, median):
    assert median_from_histogram(Counter(histogram)) == median
