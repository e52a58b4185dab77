"""In-app notifications, their e-mail copies after commit, and the SMS backends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from mediation import notifications, services
from mediation.models import Case, CaseState, Notification, User
from mediation.notifications import ConsoleSmsBackend, MemorySmsBackend


@pytest.fixture
def sms_outbox() -> Iterator[list[tuple[str, str]]]:
    """MemorySmsBackend keeps one class-wide outbox; start and leave it empty."""
    MemorySmsBackend.outbox.clear()
    yield MemorySmsBackend.outbox
    MemorySmsBackend.outbox.clear()


# --- SMS -------------------------------------------------------------------------------------------


def test_memory_backend_keeps_what_was_sent(sms_outbox: list[tuple[str, str]]) -> None:
    notifications.send_sms("+8613800000001", "您的验证码为 123456")
    notifications.send_sms("+8613800000002", "调解将于明日 9:30 开始")

    assert sms_outbox == [("+8613800000001", "您的验证码为 123456"), ("+8613800000002", "调解将于明日 9:30 开始")]


def test_configured_backend_is_used(settings: Any, sms_outbox: list[tuple[str, str]]) -> None:
    assert isinstance(notifications.sms_backend(), MemorySmsBackend)
    settings.SMS_BACKEND = "mediation.notifications.ConsoleSmsBackend"
    assert isinstance(notifications.sms_backend(), ConsoleSmsBackend)


def test_console_backend_prints_instead_of_sending(
    settings: Any, capsys: pytest.CaptureFixture[str], sms_outbox: list[tuple[str, str]]
) -> None:
    settings.SMS_BACKEND = "mediation.notifications.ConsoleSmsBackend"

    notifications.send_sms("+8613800000001", "您的验证码为 654321")

    assert capsys.readouterr().out == "[SMS to +8613800000001] 您的验证码为 654321\n"
    assert sms_outbox == []


# --- notify ----------------------------------------------------------------------------------------


def test_each_recipient_gets_one_notification_even_if_listed_twice(
    submitted_case: Case, consumer: User, case_manager: User, mailoutbox: list[mail.EmailMessage]
) -> None:
    duplicate = User.objects.get(pk=consumer.pk)

    notes = notifications.notify(
        [consumer, case_manager, duplicate, consumer], "test.kind", "消息", case=submitted_case
    )

    assert sorted(n.recipient.username for n in notes) == ["case_manager", "consumer"]
    assert Notification.objects.filter(kind="test.kind").count() == 2


def test_emails_go_out_only_after_commit(
    submitted_case: Case,
    consumer: User,
    case_manager: User,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify([consumer, case_manager, consumer], "test.kind", "调解员已接受委派", case=submitted_case)
        assert mailoutbox == []

    assert len(callbacks) == 1
    callbacks[0]()
    assert sorted(m.to[0] for m in mailoutbox) == ["case_manager@example.cn", "consumer@example.cn"]
    assert all(m.subject == f"[{submitted_case.number}] 调解员已接受委派" for m in mailoutbox)
    assert all(m.body == "调解员已接受委派" for m in mailoutbox)


def test_no_email_when_the_transaction_rolls_back(
    submitted_case: Case, consumer: User, mailoutbox: list[mail.EmailMessage], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            notifications.notify([consumer], "test.kind", "不会发出", case=submitted_case)
            raise RuntimeError

    assert mailoutbox == []
    assert not Notification.objects.filter(kind="test.kind").exists()


def test_recipient_without_email_gets_the_in_app_message_only(
    consumer: User, mailoutbox: list[mail.EmailMessage], django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=consumer.pk).update(email="")
    person = User.objects.get(pk=consumer.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notes = notifications.notify([person], "test.kind", "仅站内消息")

    assert len(notes) == 1 and notes[0].case is None
    assert callbacks == []
    assert mailoutbox == []


def test_line_breaks_in_a_message_do_not_break_the_subject(
    submitted_case: Case, consumer: User, mailoutbox: list[mail.EmailMessage], django_capture_on_commit_callbacks: Any
) -> None:
    """Messages quote reasons people typed; a newline in a header would make send_mail raise."""
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify([consumer], "test.kind", "调解员拒绝接受委派（本人\r\n系投诉人亲属）", case=submitted_case)

    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == f"[{submitted_case.number}] 调解员拒绝接受委派（本人 系投诉人亲属）"
    assert "\n" in mailoutbox[0].body


def test_one_failing_address_does_not_stop_the_others(
    submitted_case: Case,
    consumer: User,
    case_manager: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    delivered: list[str] = []

    def flaky_send_mail(subject: str, body: str, sender: str | None, to: list[str]) -> int:
        if to == ["consumer@example.cn"]:
            raise ConnectionRefusedError("smtp down")
        delivered.extend(to)
        return 1

    monkeypatch.setattr(notifications, "send_mail", flaky_send_mail)
    with caplog.at_level(logging.ERROR, logger="mediation.notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify([consumer, case_manager], "test.kind", "消息", case=submitted_case)

    assert delivered == ["case_manager@example.cn"]
    assert "consumer@example.cn" in caplog.text


# --- notifications from the services -------------------------------------------------------------


def test_service_notifications_are_written_only_after_commit(
    submitted_case: Case,
    case_manager: User,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.accept_case(submitted_case, actor=case_manager)
    assert not Notification.objects.filter(kind="mediation.case.accepted").exists()

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    assert Notification.objects.filter(kind="mediation.case.accepted").get().recipient.username == "consumer"
    assert [m.to for m in mailoutbox] == [["consumer@example.cn"]]


def test_failing_notification_does_not_undo_or_fail_the_committed_change(
    submitted_case: Case, case_manager: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[Notification]:
        raise RuntimeError("notification store unavailable")

    monkeypatch.setattr(services, "notify", broken)
    with django_capture_on_commit_callbacks(execute=True):
        case = services.accept_case(submitted_case, actor=case_manager)

    case.refresh_from_db()
    assert case.state == CaseState.ACCEPTED
