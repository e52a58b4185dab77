"""The sitting page and the check-in page: who sees what, the forms' errors, the mediator's buttons."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mediation.models import Case, LedgerEntry, OneTimeCode, User
from sessions import opening
from sessions.models import Attendance, MediationSession
from tests.test_session_opening import check_in, last_code, opened, sitting

# Real commits: the codes go out on commit (see tests/test_session_opening.py).
pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def session(mediating_case: Case, mediator: User) -> MediationSession:
    return sitting(mediating_case, mediator)


def url(name: str, session: MediationSession, **kwargs: Any) -> str:
    return reverse(f"sessions:{name}", kwargs={"session_pk": session.pk, **kwargs})


def test_an_outsider_gets_404_on_every_page(session: MediationSession, outsider: User, mediator: User) -> None:
    attendance = Attendance.objects.create(session=session, user=mediator, role=Attendance.Role.MEDIATOR)
    client = client_for(outsider)
    pages = ["session_detail", "check_in", "session_open", "session_close", "session_recording"]
    for name in pages:
        assert client.get(url(name, session)).status_code == 404
        assert client.post(url(name, session)).status_code == 404
    assert client.post(url("attendance_action", session, attendance_pk=attendance.pk)).status_code == 404
    session.refresh_from_db()
    assert session.state == MediationSession.State.SCHEDULED


def test_centre_staff_see_the_sitting_but_have_no_check_in(session: MediationSession, case_manager: User) -> None:
    client = client_for(case_manager)
    page = client.get(url("session_detail", session))
    assert page.status_code == 200 and "check-in-link" not in page.content.decode()
    assert client.get(url("check_in", session)).status_code == 404


def test_the_detail_page_shows_state_attendance_and_links(
    session: MediationSession, consumer: User, mediator: User
) -> None:
    check_in(session, mediator)
    page = client_for(consumer).get(url("session_detail", session)).content.decode()
    assert "已安排" in page and "吴调解员" in page and "邮件验证码" in page
    assert reverse("sessions:rooms", kwargs={"case_pk": session.case_id}) in page
    assert url("check_in", session) in page
    assert "open-session" not in page  # the mediator's controls are not the consumer's


def test_check_in_through_the_page(session: MediationSession, consumer: User) -> None:
    client = client_for(consumer)
    page = client.get(url("check_in", session)).content.decode()
    assert "第三百零七条之一" in page and "第十七条" in page and "第七条" in page
    sent = client.post(url("check_in", session), {"action": "send"}, follow=True)
    assert "验证码已发送至" in sent.content.decode()

    done = client.post(url("check_in", session), {"code": last_code(consumer), "acknowledged": "on"})

    assert done.status_code == 302 and done["Location"] == url("session_detail", session)
    assert Attendance.objects.get(session=session, user=consumer).checked_in


@pytest.mark.parametrize(
    ("problem", "field", "message"),
    [
        ("wrong", "code", "验证码不正确"),
        ("format", "code", "验证码为 6 位数字。"),
        ("expired", "code", "验证码已过期"),
        ("unacknowledged", "acknowledged", "请阅读并确认虚假调解风险提示。"),
    ],
)
def test_a_failed_check_in_shows_a_field_error_and_changes_nothing(
    session: MediationSession,
    consumer: User,
    problem: str,
    field: str,
    message: str,
) -> None:
    opening.send_check_in_code(session, user=consumer)
    code = last_code(consumer)
    data = {"code": code, "acknowledged": "on"}
    if problem == "wrong":
        data["code"] = f"{(int(code) + 1) % 10**6:06d}"
    elif problem == "format":
        data["code"] = code[:5]
    elif problem == "expired":
        OneTimeCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    else:
        del data["acknowledged"]
    client = client_for(consumer)
    ledger = LedgerEntry.objects.count()

    response = client.post(url("check_in", session), data)

    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not Attendance.objects.exists() and LedgerEntry.objects.count() == ledger


def test_the_mediator_records_consent_opens_and_closes_from_the_page(session: MediationSession, mediator: User) -> None:
    client = client_for(mediator)
    refused = client.post(url("session_open", session), follow=True).content.decode()
    assert "请先完成本场签到" in refused
    check_in(session, mediator)
    assert client.post(url("session_recording", session), {"consent": "maybe"}).status_code == 400
    client.post(url("session_recording", session), {"consent": "no"})
    session.refresh_from_db()
    assert session.recording_consent is False

    client.post(url("session_open", session))
    session.refresh_from_db()
    assert session.state == MediationSession.State.OPEN
    assert "close-session" in client.get(url("session_detail", session)).content.decode()

    client.post(url("session_close", session))
    session.refresh_from_db()
    assert session.state == MediationSession.State.CLOSED


def test_parties_cannot_use_the_mediators_buttons(session: MediationSession, consumer: User, mediator: User) -> None:
    check_in(session, mediator)
    attendance = check_in(session, consumer)
    client = client_for(consumer)
    for name in ("session_open", "session_close", "session_recording"):
        assert client.get(url(name, session)).status_code == 405
        assert client.post(url(name, session), {"consent": "yes"}).status_code == 403
    action = url("attendance_action", session, attendance_pk=attendance.pk)
    assert client.post(action, {"action": "mute"}).status_code == 403
    session.refresh_from_db()
    assert session.state == MediationSession.State.SCHEDULED and session.recording_consent is None


def test_the_mediator_mutes_and_moves_from_the_attendance_table(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = opened(mediating_case, mediator)
    attendance = check_in(session, consumer)
    client = client_for(mediator)
    action = url("attendance_action", session, attendance_pk=attendance.pk)

    client.post(action, {"action": "mute"})
    client.post(action, {"action": "caucus"})
    assert client.post(action, {"action": "shout"}).status_code == 302

    attendance.refresh_from_db()
    assert attendance.muted_at is not None and attendance.in_caucus
    page = client.get(url("session_detail", session)).content.decode()
    assert "已禁言" in page and "在单方会谈室" in page and 'value="unmute"' in page
