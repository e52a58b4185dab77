"""The shared case page: facts, timeline, deadlines, evidence and the actions of each role."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mediation import services
from mediation.models import (
    Case,
    CaseState,
    ClockKind,
    Deadline,
    Evidence,
    LedgerEntry,
    TerminationReason,
    User,
)

OUTSIDERS = ["outsider", "other_consumer", "other_bank_agent", "other_case_manager", "court_clerk", "regulator"]


def _text_file(name: str = "账单.txt", body: str = "2025年3月信用卡账单，分期手续费1200元。") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode("utf-8"), content_type="application/octet-stream")


@pytest.fixture
def answered_case(transferred_case: Case, bank_agent: User) -> Case:
    services.answer_complaint(
        transferred_case,
        agent=bank_agent,
        outcome="not_resolved",
        text="经核实，分期手续费已在合同中载明，维持原处理意见。",
    )
    transferred_case.refresh_from_db()
    return transferred_case


@pytest.fixture
def awaiting_case(answered_case: Case, consumer: User, bank_agent: User, case_manager: User, mediator: User) -> Case:
    services.request_mediation(answered_case, consumer=consumer)
    services.record_institution_consent(answered_case, agent=bank_agent, consent=True)
    services.assign_mediator(answered_case, actor=case_manager, mediator=mediator)
    answered_case.refresh_from_db()
    return answered_case


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "case_manager"])
def test_parties_and_centre_see_the_case_page(
    client: Client, request: Any, persona: str, transferred_case: Case
) -> None:
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk}))
    assert response.status_code == 200
    page = response.content.decode()
    assert transferred_case.number in page
    assert "华南商业银行" in page
    assert "利息、违约金及费用" in page
    assert "12000.00" in page
    assert "信用卡分期手续费未如实告知" in page


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_get_404_on_the_case_page(client: Client, request: Any, persona: str, transferred_case: Case) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).status_code == 404


def test_institution_does_not_see_a_complaint_before_transfer(
    client: Client, bank_agent: User, submitted_case: Case
) -> None:
    client.force_login(bank_agent)
    assert client.get(reverse("case_detail", kwargs={"pk": submitted_case.pk})).status_code == 404


def test_case_page_requires_login(client: Client, submitted_case: Case) -> None:
    response = client.get(reverse("case_detail", kwargs={"pk": submitted_case.pk}))
    assert response["Location"].startswith(reverse("login"))


def test_case_page_shows_only_the_masked_id_number(
    client: Client, bank_agent: User, consumer: User, transferred_case: Case
) -> None:
    client.force_login(bank_agent)
    page = client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    assert consumer.id_number_masked in page
    assert consumer.reveal_id_number() not in page


def test_timeline_shows_who_did_what_including_the_answer(client: Client, consumer: User, answered_case: Case) -> None:
    client.force_login(consumer)
    response = client.get(reverse("case_detail", kwargs={"pk": answered_case.pk}))
    titles = [event.title for event in response.context["timeline"]]
    assert titles == ["状态：已登记", "状态：已受理", "状态：已转办机构", "机构答复：未解决（维持原处理意见）"]
    page = response.content.decode()
    assert "维持原处理意见。" in page
    assert "华南商业银行（赵经理）" in page
    assert "冯主任" in page


def test_next_step_shows_the_deadline_and_remaining_days(
    client: Client, consumer: User, transferred_case: Case
) -> None:
    deadline = transferred_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    Deadline.objects.filter(pk=deadline.pk).update(
        due_date=timezone.localdate() + datetime.timedelta(days=6), provisional=False
    )
    client.force_login(consumer)
    page = client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    assert "机构答复期限" in page
    assert "剩余 6 天" in page
    assert "暂定" not in page


def test_provisional_deadline_is_marked_and_explained(client: Client, consumer: User, transferred_case: Case) -> None:
    transferred_case.deadlines.update(due_date=datetime.date(2031, 1, 20), provisional=True)
    client.force_login(consumer)
    page = client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    assert "暂定" in page
    assert "2031年的法定节假日安排尚未公布" in page


def test_overdue_deadline_says_how_many_days_late(client: Client, bank_agent: User, transferred_case: Case) -> None:
    transferred_case.deadlines.update(due_date=timezone.localdate() - datetime.timedelta(days=3))
    client.force_login(bank_agent)
    page = client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    assert "已超期 3 天" in page


# --- evidence -------------------------------------------------------------------------------


def test_party_uploads_evidence_and_it_is_listed(client: Client, consumer: User, submitted_case: Case) -> None:
    client.force_login(consumer)
    response = client.post(
        reverse("evidence_upload", kwargs={"pk": submitted_case.pk}),
        {"file": _text_file(), "description": "三月账单"},
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 302
    evidence = Evidence.objects.get(case=submitted_case)
    assert evidence.content_type == "text/plain"
    assert evidence.uploaded_by == consumer
    assert LedgerEntry.objects.get(action="mediation.evidence.uploaded").ip == "10.9.8.7"
    page = client.get(reverse("case_detail", kwargs={"pk": submitted_case.pk})).content.decode()
    assert "账单.txt" in page
    assert "三月账单" in page


def test_rejected_file_type_is_shown_and_nothing_is_stored(
    client: Client, consumer: User, submitted_case: Case
) -> None:
    client.force_login(consumer)
    executable = SimpleUploadedFile("invoice.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200)
    response = client.post(
        reverse("evidence_upload", kwargs={"pk": submitted_case.pk}), {"file": executable}, follow=True
    )
    assert "不支持该文件类型" in response.content.decode()
    assert not Evidence.objects.exists()


def test_upload_without_a_file_is_refused(client: Client, consumer: User, submitted_case: Case) -> None:
    client.force_login(consumer)
    response = client.post(
        reverse("evidence_upload", kwargs={"pk": submitted_case.pk}), {"description": "x"}, follow=True
    )
    # Django's message, as translated by the first app that ships it (Django REST framework's wording).
    assert "字段是必填项" in response.content.decode() or "This field is required" in response.content.decode()
    assert not Evidence.objects.exists()


def test_evidence_upload_is_post_only(client: Client, consumer: User, submitted_case: Case) -> None:
    client.force_login(consumer)
    assert client.get(reverse("evidence_upload", kwargs={"pk": submitted_case.pk})).status_code == 405


def test_evidence_download_streams_the_file_as_attachment_and_records_the_view(
    client: Client, consumer: User, bank_agent: User, transferred_case: Case
) -> None:
    evidence = services.add_evidence(transferred_case, user=consumer, upload=_text_file())
    client.force_login(bank_agent)
    response = client.get(
        reverse("evidence_download", kwargs={"pk": transferred_case.pk, "evidence_pk": evidence.pk}),
        REMOTE_ADDR="10.0.0.5",
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode() == "2025年3月信用卡账单，分期手续费1200元。"
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    entry = LedgerEntry.objects.get(action="mediation.viewed.evidence")
    assert (entry.actor, entry.case, entry.data, entry.ip) == (
        bank_agent,
        transferred_case,
        {"evidence": evidence.pk},
        "10.0.0.5",
    )


def test_evidence_download_refuses_an_id_from_another_case(
    client: Client, consumer: User, other_consumer: User, make_case: Callable[..., Case]
) -> None:
    mine, theirs, also_mine = make_case(), make_case(consumer=other_consumer), make_case()
    foreign = services.add_evidence(theirs, user=other_consumer, upload=_text_file())
    my_other = services.add_evidence(also_mine, user=consumer, upload=_text_file())
    client.force_login(consumer)
    for evidence in (foreign, my_other):
        url = reverse("evidence_download", kwargs={"pk": mine.pk, "evidence_pk": evidence.pk})
        assert client.get(url).status_code == 404
    assert not LedgerEntry.objects.filter(action="mediation.viewed.evidence").exists()


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_can_neither_download_nor_upload_evidence(
    client: Client, request: Any, persona: str, consumer: User, transferred_case: Case
) -> None:
    evidence = services.add_evidence(transferred_case, user=consumer, upload=_text_file())
    client.force_login(request.getfixturevalue(persona))
    url = reverse("evidence_download", kwargs={"pk": transferred_case.pk, "evidence_pk": evidence.pk})
    assert client.get(url).status_code == 404
    response = client.post(reverse("evidence_upload", kwargs={"pk": transferred_case.pk}), {"file": _text_file()})
    assert response.status_code == 404
    assert Evidence.objects.count() == 1


# --- consumer actions -----------------------------------------------------------------------


def test_consumer_accepts_the_resolution_and_the_case_closes(
    client: Client, consumer: User, answered_case: Case
) -> None:
    client.force_login(consumer)
    page = client.get(reverse("case_detail", kwargs={"pk": answered_case.pk})).content.decode()
    assert "认可处理结果" in page
    response = client.post(reverse("case_accept_resolution", kwargs={"pk": answered_case.pk}), follow=True)
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.CLOSED
    assert "案件已结案" in response.content.decode()


def test_refused_transition_is_shown_as_a_message_and_changes_nothing(
    client: Client, consumer: User, transferred_case: Case
) -> None:
    client.force_login(consumer)
    response = client.post(reverse("case_accept_resolution", kwargs={"pk": transferred_case.pk}), follow=True)
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.TRANSFERRED
    shown = [(message.level_tag, str(message)) for message in response.context["messages"]]
    assert len(shown) == 1
    assert shown[0][0] == "error"
    assert shown[0][1] in response.content.decode()


@pytest.mark.parametrize("persona", ["bank_agent", "case_manager", "outsider"])
def test_only_the_consumer_may_accept_the_resolution(
    client: Client, request: Any, persona: str, answered_case: Case
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.post(reverse("case_accept_resolution", kwargs={"pk": answered_case.pk})).status_code == 404
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.ANSWERED


def test_accept_resolution_is_post_only(client: Client, consumer: User, answered_case: Case) -> None:
    client.force_login(consumer)
    assert client.get(reverse("case_accept_resolution", kwargs={"pk": answered_case.pk})).status_code == 405


def test_request_mediation_needs_the_consent_box(client: Client, consumer: User, answered_case: Case) -> None:
    client.force_login(consumer)
    url = reverse("case_request_mediation", kwargs={"pk": answered_case.pk})
    response = client.post(url, {}, follow=True)
    assert "申请调解须勾选同意在线调解" in response.content.decode()
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.ANSWERED

    client.post(url, {"consent": "on"}, REMOTE_ADDR="10.2.2.2")
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.MEDIATION_REQUESTED
    assert LedgerEntry.objects.get(action="mediation.case.mediation_requested").ip == "10.2.2.2"


# --- institution consent --------------------------------------------------------------------


def test_institution_consents_to_online_mediation(
    client: Client, consumer: User, bank_agent: User, answered_case: Case
) -> None:
    services.request_mediation(answered_case, consumer=consumer)
    client.force_login(bank_agent)
    client.post(reverse("case_institution_consent", kwargs={"pk": answered_case.pk}), {"consent": "yes"})
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.CHOOSING_MEDIATOR


def test_institution_refusal_needs_a_reason_and_then_ends_mediation(
    client: Client, consumer: User, bank_agent: User, answered_case: Case
) -> None:
    services.request_mediation(answered_case, consumer=consumer)
    client.force_login(bank_agent)
    url = reverse("case_institution_consent", kwargs={"pk": answered_case.pk})
    response = client.post(url, {"consent": "no"}, follow=True)
    assert "不同意调解时须说明理由" in response.content.decode()
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.MEDIATION_REQUESTED

    client.post(url, {"consent": "no", "reason": "已按合同处理"})
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.TERMINATED
    assert answered_case.termination_reason == TerminationReason.REFUSED


@pytest.mark.parametrize("persona", ["other_bank_agent", "consumer"])
def test_only_the_institution_records_its_consent(
    client: Client, request: Any, persona: str, consumer: User, answered_case: Case
) -> None:
    services.request_mediation(answered_case, consumer=consumer)
    client.force_login(request.getfixturevalue(persona))
    response = client.post(reverse("case_institution_consent", kwargs={"pk": answered_case.pk}), {"consent": "yes"})
    assert response.status_code == 404
    answered_case.refresh_from_db()
    assert answered_case.state == CaseState.MEDIATION_REQUESTED


# --- mediator actions -----------------------------------------------------------------------


def test_mediator_accepts_the_assignment_only_after_declaring_no_conflict(
    client: Client, mediator: User, awaiting_case: Case
) -> None:
    from mediators.models import Disclosure

    client.force_login(mediator)
    page = client.get(reverse("case_detail", kwargs={"pk": awaiting_case.pk})).content.decode()
    assert "接受委派" in page
    assert reverse("mediators:disclosure", kwargs={"pk": awaiting_case.pk}) in page

    response = client.post(reverse("case_mediator_accept", kwargs={"pk": awaiting_case.pk}), follow=True)
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.AWAITING_MEDIATOR
    assert "请先声明是否存在利益冲突" in response.content.decode()

    Disclosure.objects.create(case=awaiting_case, mediator=mediator, has_conflict=False)
    client.post(reverse("case_mediator_accept", kwargs={"pk": awaiting_case.pk}))
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.MEDIATING


def test_mediator_declines_only_with_a_reason(client: Client, mediator: User, awaiting_case: Case) -> None:
    client.force_login(mediator)
    url = reverse("case_mediator_decline", kwargs={"pk": awaiting_case.pk})
    response = client.post(url, {"reason": "  "}, follow=True)
    assert response.status_code == 200
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.AWAITING_MEDIATOR

    response = client.post(url, {"reason": "与被投诉机构存在利害关系"})
    assert response["Location"] == reverse("home")
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.CHOOSING_MEDIATOR
    assert client.get(reverse("case_detail", kwargs={"pk": awaiting_case.pk})).status_code == 404


def test_other_mediator_cannot_accept(client: Client, other_mediator: User, awaiting_case: Case) -> None:
    client.force_login(other_mediator)
    assert client.post(reverse("case_mediator_accept", kwargs={"pk": awaiting_case.pk})).status_code == 404
    awaiting_case.refresh_from_db()
    assert awaiting_case.state == CaseState.AWAITING_MEDIATOR


def test_mediator_terminates_with_a_legal_reason(client: Client, mediator: User, mediating_case: Case) -> None:
    client.force_login(mediator)
    url = reverse("case_terminate", kwargs={"pk": mediating_case.pk})
    client.post(url, {"reason": "other", "note": ""})
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.MEDIATING

    client.post(url, {"reason": "gap_too_large", "note": "双方对退费金额分歧较大"})
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.TERMINATED
    assert mediating_case.termination_reason == TerminationReason.GAP_TOO_LARGE


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "other_mediator", "case_manager"])
def test_only_the_assigned_mediator_terminates(
    client: Client, request: Any, persona: str, mediating_case: Case
) -> None:
    client.force_login(request.getfixturevalue(persona))
    response = client.post(reverse("case_terminate", kwargs={"pk": mediating_case.pk}), {"reason": "gap_too_large"})
    assert response.status_code == 404
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.MEDIATING


def test_case_manager_gets_the_centre_actions_on_the_case_page_and_parties_do_not(
    client: Client, case_manager: User, consumer: User, submitted_case: Case
) -> None:
    accept_url = reverse("staff:case_accept", kwargs={"pk": submitted_case.pk})
    client.force_login(case_manager)
    page = client.get(reverse("case_detail", kwargs={"pk": submitted_case.pk})).content.decode()
    assert accept_url in page

    client.post(accept_url)
    submitted_case.refresh_from_db()
    assert submitted_case.state == "accepted"

    client.force_login(consumer)
    page = client.get(reverse("case_detail", kwargs={"pk": submitted_case.pk})).content.decode()
    assert "staff-actions" not in page
