"""The performance and enforcement pages over real HTTP: who sees what, who may do what, bad input."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from judicial_link import performance
from judicial_link.models import DueItem, EnforcementPackage
from mediation.models import Case, CaseState, LedgerEntry, User
from tests.performance_helpers import confirm_by_court, items_of, make_overdue, receipt_upload

State = DueItem.State


@pytest.fixture
def signed(ready_case: Case) -> Case:
    """The case with its agreement in effect (conftest's ready_case)."""
    return ready_case


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(case: Case) -> str:
    return reverse("judicial:performance", kwargs={"case_pk": case.pk})


def item_url(name: str, item: DueItem) -> str:
    return reverse(f"judicial:performance_{name}", kwargs={"case_pk": item.case_id, "item_pk": item.pk})


def report_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "paid_on": timezone.localdate().isoformat(),
        "amount": "1000.00",
        "note": "网银转账",
        "evidence": receipt_upload(),
    }
    data.update(changes)
    return data


def reported(item: DueItem, agent: User, capture: Any) -> DueItem:
    with capture(execute=True):
        return performance.report_performed(
            item, actor=agent, paid_on=timezone.localdate(), amount=item.amount, note="", upload=receipt_upload()
        )


def test_outsiders_get_404_on_every_view_whatever_the_method(
    signed: Case,
    consumer: User,
    bank_agent: User,
    outsider: User,
    other_bank_agent: User,
    other_case_manager: User,
    court_clerk: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    item = reported(items_of(signed)[0], bank_agent, django_capture_on_commit_callbacks)
    built = EnforcementPackage.objects.create(
        case=signed,
        application=confirm_by_court(signed, consumer, django_capture_on_commit_callbacks),
        court=signed.institution,
        built_by=consumer,
        last_performance_day=item.due_date,
        limit_date=item.due_date,
        package="performance/x.zip",
        package_size=1,
        package_sha256="0" * 64,
        package_sm3="0" * 64,
        manifest_sha256="0" * 64,
    )
    urls = [
        page_url(signed),
        reverse("judicial:enforcement", kwargs={"case_pk": signed.pk}),
        reverse("judicial:enforcement_download", kwargs={"case_pk": signed.pk, "enforcement_pk": built.pk}),
        *(item_url(name, item) for name in ("report", "confirm", "dispute", "evidence")),
    ]
    ledger = LedgerEntry.objects.filter(case=signed).count()
    for user in (outsider, other_bank_agent, other_case_manager, court_clerk):
        client = client_for(user)
        for url in urls:
            for method in (client.get, client.post):
                assert method(url).status_code == 404, (user.username, url)
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert LedgerEntry.objects.filter(case=signed).count() == ledger
    item.refresh_from_db()
    assert item.state == State.REPORTED_PAID


def test_the_page_lists_items_with_due_dates_and_days_and_the_case_page_links_it(
    signed: Case, consumer: User, mediator: User, case_manager: User
) -> None:
    make_overdue(items_of(signed)[0], days=4)
    for user in (consumer, mediator, case_manager):
        page = client_for(user).get(page_url(signed))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-overdue class="overdue"' in html and "已逾期 4 天" in html and "还有 40 天" in html
        assert "申请强制执行的最后一日" in html and "第二百五十条" in html
    case_page = client_for(consumer).get(reverse("case_detail", kwargs={"pk": signed.pk})).content.decode()
    assert page_url(signed) in case_page and "1 项已逾期未履行" in case_page


def test_the_bank_reports_through_the_form_and_the_consumer_confirms(
    signed: Case, consumer: User, bank_agent: User
) -> None:
    item = items_of(signed)[0]
    bank = client_for(bank_agent)
    assert bank.get(item_url("report", item)).status_code == 200
    response = bank.post(item_url("report", item), report_data())
    assert response.status_code == 302 and response["Location"] == page_url(signed)
    item.refresh_from_db()
    assert item.state == State.REPORTED_PAID and item.paid_amount == Decimal("1000.00")
    download = client_for(consumer).get(item_url("evidence", item))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
    assert 'action="' + item_url("confirm", item) in client_for(consumer).get(page_url(signed)).content.decode()
    response = client_for(consumer).post(item_url("confirm", item))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.state == State.CONFIRMED


def test_the_wrong_side_gets_403_and_nothing_changes(signed: Case, consumer: User, bank_agent: User) -> None:
    item = items_of(signed)[0]
    consumer_client = client_for(consumer)
    assert consumer_client.get(item_url("report", item)).status_code == 403
    refused = consumer_client.post(item_url("report", item), report_data())
    assert refused.status_code == 403 and "只有履行方" in refused.content.decode()
    item.refresh_from_db()
    assert item.state == State.DUE and not item.evidence
    client_for(bank_agent).post(item_url("report", item), report_data())
    bank = client_for(bank_agent)
    for name in ("confirm", "dispute"):
        response = bank.post(item_url(name, item), {"reason": "自己不能确认"})
        assert response.status_code == 403, name
    assert bank.get(item_url("dispute", item)).status_code == 403
    item.refresh_from_db()
    assert item.state == State.REPORTED_PAID and item.responded_by is None


def test_bad_input_is_shown_on_the_field(signed: Case, consumer: User, bank_agent: User) -> None:
    item = items_of(signed)[0]
    bank = client_for(bank_agent)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = bank.post(item_url("report", item), report_data(paid_on=tomorrow))
    assert response.status_code == 400 and "履行日期不能晚于今天" in response.content.decode()
    response = bank.post(item_url("report", item), report_data(evidence=""))
    assert response.status_code == 400
    item.refresh_from_db()
    assert item.state == State.DUE
    bank.post(item_url("report", item), report_data())
    response = client_for(consumer).post(item_url("dispute", item), {"reason": ""})
    assert response.status_code == 400 and 'id="field-id_reason"' in response.content.decode()
    response = client_for(consumer).post(item_url("dispute", item), {"reason": "金额不符"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.state == State.DISPUTED and item.dispute_reason == "金额不符"
    assert "重新报告履行" in bank.get(page_url(signed)).content.decode()


def test_enforcement_page_refuses_before_confirmation_then_builds_and_downloads(
    signed: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = reverse("judicial:enforcement", kwargs={"case_pk": signed.pk})
    make_overdue(items_of(signed)[-1], days=2)
    consumer_client = client_for(consumer)
    page = consumer_client.get(url).content.decode()
    assert 'data-refusal="not_confirmed"' in page and "申请强制执行的最后一日" in page
    refused = consumer_client.post(url, {"confirm": "on"})
    assert refused.status_code == 400 and "尚未经人民法院裁定确认有效" in refused.content.decode()
    assert not EnforcementPackage.objects.exists()

    confirm_by_court(signed, consumer, django_capture_on_commit_callbacks)
    unticked = consumer_client.post(url, {})
    assert unticked.status_code == 400 and "请勾选确认" in unticked.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = consumer_client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    built = EnforcementPackage.objects.get()
    download_url = reverse("judicial:enforcement_download", kwargs={"case_pk": signed.pk, "enforcement_pk": built.pk})
    assert download_url in consumer_client.get(page_url(signed)).content.decode()
    for party in (consumer, bank_agent):
        download = client_for(party).get(download_url)
        assert download.status_code == 200 and download["Content-Type"] == "application/zip"
        assert b"".join(download.streaming_content)[:2] == b"PK"  # type: ignore[attr-defined]
    assert client_for(mediator).get(download_url).status_code == 403
    assert client_for(mediator).post(url, {"confirm": "on"}).status_code == 403
    assert EnforcementPackage.objects.count() == 1


def test_when_every_item_is_confirmed_the_case_manager_may_close(
    signed: Case, consumer: User, bank_agent: User, case_manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    for item in items_of(signed):
        reported(item, bank_agent, django_capture_on_commit_callbacks)
        performance.confirm_performed(item, actor=consumer)
    assert "已确认履行完毕" in client_for(consumer).get(page_url(signed)).content.decode()
    close_url = reverse("staff:case_close", kwargs={"pk": signed.pk})
    assert close_url not in client_for(consumer).get(page_url(signed)).content.decode()
    manager = client_for(case_manager)
    assert close_url in manager.get(page_url(signed)).content.decode()
    manager.post(close_url, {"reason": "调解协议已全部履行完毕。"})
    signed.refresh_from_db()
    assert signed.state == CaseState.CLOSED


def test_case_managers_see_their_centres_overdue_items_and_nobody_else_has_the_list(
    signed: Case, consumer: User, bank_agent: User, case_manager: User, other_case_manager: User
) -> None:
    first = make_overdue(items_of(signed)[0], days=6)
    url = reverse("judicial:performance_overdue")
    page = client_for(case_manager).get(url).content.decode()
    assert 'data-count="1"' in page and signed.number in page and first.description in page and "已逾期 6 天" in page
    other = client_for(other_case_manager).get(url).content.decode()
    assert 'data-count="0"' in other and signed.number not in other
    for user in (consumer, bank_agent):
        assert client_for(user).get(url).status_code == 404
    case_page = client_for(case_manager).get(reverse("case_detail", kwargs={"pk": signed.pk})).content.decode()
    assert 'data-centre-overdue="1"' in case_page
    assert (
        "data-centre-overdue"
        not in client_for(consumer).get(reverse("case_detail", kwargs={"pk": signed.pk})).content.decode()
    )
