"""Institution agents: inbox, answer form, extension requests and their approval."""

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
    ExtensionRequest,
    InstitutionAnswer,
    LedgerEntry,
    User,
)


def _transfer(case: Case, case_manager: User) -> Case:
    services.accept_case(case, actor=case_manager)
    return services.transfer_to_institution(case, actor=case_manager)


def _set_due(case: Case, days_from_today: int) -> None:
    Deadline.objects.filter(case=case, kind=ClockKind.INSTITUTION_ANSWER).update(
        due_date=timezone.localdate() + datetime.timedelta(days=days_from_today)
    )


def _answer_url(case: Case) -> str:
    return reverse("institution_answer", kwargs={"pk": case.pk})


# --- inbox ----------------------------------------------------------------------------------


def test_inbox_lists_transferred_complaints_overdue_first_with_remaining_days(
    client: Client, bank_agent: User, case_manager: User, make_case: Callable[..., Case]
) -> None:
    relaxed, overdue, urgent = (_transfer(make_case(), case_manager) for _i in range(3))
    _set_due(relaxed, 10)
    _set_due(overdue, -2)
    _set_due(urgent, 1)
    not_yet_transferred = make_case()
    client.force_login(bank_agent)
    response = client.get(reverse("institution_inbox"))
    assert [case.pk for case, _deadline, _left in response.context["rows"]] == [overdue.pk, urgent.pk, relaxed.pk]
    page = response.content.decode()
    assert "已超期 2 天" in page
    assert "10 天" in page
    assert not_yet_transferred.number not in page


def test_inbox_leaves_out_answered_complaints(client: Client, bank_agent: User, transferred_case: Case) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还手续费。")
    client.force_login(bank_agent)
    assert transferred_case.number not in client.get(reverse("institution_inbox")).content.decode()


def test_other_institutions_do_not_see_the_complaint_in_their_inbox(
    client: Client, other_bank_agent: User, transferred_case: Case
) -> None:
    client.force_login(other_bank_agent)
    response = client.get(reverse("institution_inbox"))
    assert response.status_code == 200
    assert transferred_case.number not in response.content.decode()


@pytest.mark.parametrize("persona", ["consumer", "case_manager", "regulator", "court_clerk"])
def test_inbox_is_for_institution_agents_only(
    client: Client, request: Any, persona: str, transferred_case: Case
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("institution_inbox")).status_code == 404


# --- answer ---------------------------------------------------------------------------------


def test_agent_answers_not_resolved_with_an_attachment(
    client: Client, bank_agent: User, transferred_case: Case
) -> None:
    client.force_login(bank_agent)
    assert client.get(_answer_url(transferred_case)).status_code == 200
    attachment = SimpleUploadedFile("核实说明.txt", "分期手续费已在合同第5条载明。".encode())
    response = client.post(
        _answer_url(transferred_case),
        {"outcome": "not_resolved", "text": "经核实，维持原处理意见。", "attachments": [attachment]},
        REMOTE_ADDR="10.3.3.3",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("institution_inbox")
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.ANSWERED
    answer = InstitutionAnswer.objects.get(case=transferred_case)
    assert (answer.agent, answer.outcome, answer.text) == (bank_agent, "not_resolved", "经核实，维持原处理意见。")
    evidence = Evidence.objects.get(case=transferred_case)
    assert list(answer.attachments.all()) == [evidence]
    assert evidence.original_name == "核实说明.txt"
    assert LedgerEntry.objects.get(action="mediation.case.answered").ip == "10.3.3.3"


def test_answer_without_text_is_refused_on_the_field(client: Client, bank_agent: User, transferred_case: Case) -> None:
    client.force_login(bank_agent)
    response = client.post(_answer_url(transferred_case), {"outcome": "resolved", "text": ""})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["text"]
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.TRANSFERRED
    assert not InstitutionAnswer.objects.exists()


def test_answer_with_a_forbidden_attachment_stores_nothing(
    client: Client, bank_agent: User, transferred_case: Case
) -> None:
    client.force_login(bank_agent)
    good = SimpleUploadedFile("说明.txt", "说明".encode())
    bad = SimpleUploadedFile("说明.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 100)
    response = client.post(
        _answer_url(transferred_case), {"outcome": "resolved", "text": "已处理。", "attachments": [good, bad]}
    )
    assert response.status_code == 200
    assert "不支持该文件类型" in response.context["form"].errors["attachments"][0]
    assert not Evidence.objects.exists()
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.TRANSFERRED


@pytest.mark.parametrize("persona", ["other_bank_agent", "consumer", "outsider", "court_clerk", "regulator"])
def test_outsiders_cannot_open_or_post_the_answer(
    client: Client, request: Any, persona: str, transferred_case: Case
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_answer_url(transferred_case)).status_code == 404
    response = client.post(_answer_url(transferred_case), {"outcome": "resolved", "text": "已处理。"})
    assert response.status_code == 404
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.TRANSFERRED


def test_answer_page_of_an_answered_case_sends_back_to_the_case(
    client: Client, bank_agent: User, transferred_case: Case
) -> None:
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还。")
    client.force_login(bank_agent)
    response = client.get(_answer_url(transferred_case))
    assert response["Location"] == reverse("case_detail", kwargs={"pk": transferred_case.pk})


def test_consumer_sees_the_answer_link_only_as_institution(
    client: Client, bank_agent: User, consumer: User, transferred_case: Case
) -> None:
    client.force_login(bank_agent)
    assert (
        _answer_url(transferred_case)
        in client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    )
    client.force_login(consumer)
    assert (
        _answer_url(transferred_case)
        not in client.get(reverse("case_detail", kwargs={"pk": transferred_case.pk})).content.decode()
    )


# --- extensions -----------------------------------------------------------------------------


def test_first_extension_is_granted_at_once_and_the_second_waits_for_approval(
    client: Client, bank_agent: User, bank_supervisor: User, transferred_case: Case
) -> None:
    deadline = transferred_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    original_due = deadline.due_date
    client.force_login(bank_agent)
    url = reverse("institution_request_extension", kwargs={"pk": transferred_case.pk})
    client.post(url, {"reason": "需调取分行录音，情况复杂"})
    deadline.refresh_from_db()
    assert deadline.extension_days == 15
    assert deadline.due_date > original_due

    client.post(url, {"reason": "仍需总行法律部意见"})
    pending = ExtensionRequest.objects.get(status=ExtensionRequest.Status.PENDING)
    assert pending.days == 30

    decide = reverse("institution_decide_extension", kwargs={"pk": transferred_case.pk, "extension_pk": pending.pk})
    response = client.post(decide, {"decision": "approve"}, follow=True)
    pending.refresh_from_db()
    assert pending.status == ExtensionRequest.Status.PENDING
    assert any(message.level_tag == "error" for message in response.context["messages"])

    client.force_login(bank_supervisor)
    assert pending.reason in client.get(reverse("institution_inbox")).content.decode()
    assert "批准" in client.get(_answer_url(transferred_case)).content.decode()
    client.post(decide, {"decision": "approve"})
    pending.refresh_from_db()
    deadline.refresh_from_db()
    assert pending.status == ExtensionRequest.Status.APPROVED
    assert pending.decided_by == bank_supervisor
    assert deadline.extension_days == 45


def test_supervisor_may_reject_a_pending_extension(
    client: Client, bank_agent: User, bank_supervisor: User, transferred_case: Case
) -> None:
    services.request_answer_extension(transferred_case, actor=bank_agent, reason="复杂")
    pending = services.request_answer_extension(transferred_case, actor=bank_agent, reason="仍复杂")
    client.force_login(bank_supervisor)
    decide = reverse("institution_decide_extension", kwargs={"pk": transferred_case.pk, "extension_pk": pending.pk})
    client.post(decide, {})
    pending.refresh_from_db()
    assert pending.status == ExtensionRequest.Status.PENDING
    client.post(decide, {"decision": "reject"})
    pending.refresh_from_db()
    assert pending.status == ExtensionRequest.Status.REJECTED


def test_extension_without_a_reason_is_refused(client: Client, bank_agent: User, transferred_case: Case) -> None:
    client.force_login(bank_agent)
    response = client.post(
        reverse("institution_request_extension", kwargs={"pk": transferred_case.pk}), {"reason": ""}, follow=True
    )
    assert any(message.level_tag == "error" for message in response.context["messages"])
    assert not ExtensionRequest.objects.exists()


@pytest.mark.parametrize("persona", ["other_bank_agent", "consumer", "case_manager"])
def test_outsiders_cannot_request_or_decide_extensions(
    client: Client, request: Any, persona: str, bank_agent: User, transferred_case: Case
) -> None:
    services.request_answer_extension(transferred_case, actor=bank_agent, reason="复杂")
    pending = services.request_answer_extension(transferred_case, actor=bank_agent, reason="仍复杂")
    client.force_login(request.getfixturevalue(persona))
    url = reverse("institution_request_extension", kwargs={"pk": transferred_case.pk})
    assert client.post(url, {"reason": "x"}).status_code == 404
    decide = reverse("institution_decide_extension", kwargs={"pk": transferred_case.pk, "extension_pk": pending.pk})
    assert client.post(decide, {"decision": "approve"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == ExtensionRequest.Status.PENDING
    assert ExtensionRequest.objects.count() == 2


def test_decide_refuses_an_extension_of_another_case(
    client: Client, bank_agent: User, bank_supervisor: User, case_manager: User, make_case: Callable[..., Case]
) -> None:
    first, second = _transfer(make_case(), case_manager), _transfer(make_case(), case_manager)
    services.request_answer_extension(second, actor=bank_agent, reason="复杂")
    pending = services.request_answer_extension(second, actor=bank_agent, reason="仍复杂")
    client.force_login(bank_supervisor)
    decide = reverse("institution_decide_extension", kwargs={"pk": first.pk, "extension_pk": pending.pk})
    assert client.post(decide, {"decision": "approve"}).status_code == 404
