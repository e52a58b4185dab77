"""The scheduling page: the mediator schedules, reschedules and cancels; parties declare days; outsiders get 404."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from mediation import services
from mediation.models import Case, LedgerEntry, User
from sessions import scheduling
from sessions.models import MediationSession, UnavailableDate

pytestmark = pytest.mark.django_db


def at(days: int, hour: int = 10) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def case_entries(case: Case) -> int:
    return LedgerEntry.objects.filter(case=case).count()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def list_url(case: Case) -> str:
    return reverse("sessions:sessions_list", kwargs={"case_pk": case.pk})


def schedule_data(case: Case, start: datetime.datetime, **extra: Any) -> dict[str, Any]:
    people = [person.pk for person in scheduling.expected_candidates(case)]
    data = {
        "scheduled_start": local(start),
        "scheduled_end": local(start + datetime.timedelta(hours=2)),
        "mode": "joint",
        "expected_participants": people,
    }
    data.update(extra)
    return data


@pytest.fixture
def sitting(mediating_case: Case, mediator: User) -> MediationSession:
    return scheduling.schedule_session(mediating_case, actor=mediator, start=at(3), end=at(3, 12))


@pytest.fixture
def declared(mediating_case: Case, consumer: User) -> UnavailableDate:
    return scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(6).date(), note="出差")


def every_url(case: Case, sitting: MediationSession, declared: UnavailableDate) -> list[str]:
    return [
        list_url(case),
        reverse("sessions:session_schedule", kwargs={"case_pk": case.pk}),
        reverse("sessions:unavailable_add", kwargs={"case_pk": case.pk}),
        reverse("sessions:unavailable_delete", kwargs={"unavailable_date_pk": declared.pk}),
        reverse("sessions:session_reschedule", kwargs={"session_pk": sitting.pk}),
        reverse("sessions:session_cancel", kwargs={"session_pk": sitting.pk}),
        reverse("sessions:session_ics", kwargs={"session_pk": sitting.pk}),
    ]


# --- who gets in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_get_404_on_every_view(
    mediating_case: Case,
    sitting: MediationSession,
    declared: UnavailableDate,
    outsider: User,
    other_bank_agent: User,
    other_mediator: User,
    method: str,
) -> None:
    before = (MediationSession.objects.count(), UnavailableDate.objects.count(), case_entries(mediating_case))
    for person in (outsider, other_bank_agent, other_mediator):
        client = client_for(person)
        for url in every_url(mediating_case, sitting, declared):
            response = getattr(client, method)(url, {"reason": "x", "date": "2030-01-01"} if method == "post" else {})
            assert response.status_code == 404, (person, url)
    assert (MediationSession.objects.count(), UnavailableDate.objects.count(), case_entries(mediating_case)) == before


def test_anonymous_visitors_are_sent_to_log_in(
    mediating_case: Case, sitting: MediationSession, declared: UnavailableDate
) -> None:
    for url in every_url(mediating_case, sitting, declared):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_parties_cannot_schedule_reschedule_or_cancel(
    mediating_case: Case, sitting: MediationSession, consumer: User, bank_agent: User, case_manager: User
) -> None:
    for person in (consumer, bank_agent, case_manager):
        client = client_for(person)
        schedule = reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk})
        assert client.post(schedule, schedule_data(mediating_case, at(5))).status_code == 404
        reschedule = reverse("sessions:session_reschedule", kwargs={"session_pk": sitting.pk})
        assert client.get(reschedule).status_code == 404
        cancel = reverse("sessions:session_cancel", kwargs={"session_pk": sitting.pk})
        assert client.post(cancel, {"reason": "不来了"}).status_code == 404
    assert MediationSession.objects.get().state == MediationSession.State.SCHEDULED
    assert MediationSession.objects.count() == 1


def test_centre_staff_see_the_schedule_but_declare_nothing(
    mediating_case: Case, sitting: MediationSession, case_manager: User
) -> None:
    client = client_for(case_manager)
    body = client.get(list_url(mediating_case)).content.decode()
    assert "第 1 次" in body and 'id="unavailable-form"' not in body and 'id="schedule-form"' not in body
    add = reverse("sessions:unavailable_add", kwargs={"case_pk": mediating_case.pk})
    assert client.post(add, {"date": at(5).date().isoformat()}).status_code == 404


def test_wrong_methods_get_405_for_people_on_the_case(
    mediating_case: Case, sitting: MediationSession, declared: UnavailableDate, mediator: User, consumer: User
) -> None:
    mediator_client = client_for(mediator)
    assert mediator_client.post(list_url(mediating_case)).status_code == 405
    assert (
        mediator_client.get(reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk})).status_code
        == 405
    )
    assert mediator_client.get(reverse("sessions:session_cancel", kwargs={"session_pk": sitting.pk})).status_code == 405
    consumer_client = client_for(consumer)
    assert consumer_client.post(reverse("sessions:session_ics", kwargs={"session_pk": sitting.pk})).status_code == 405
    delete = reverse("sessions:unavailable_delete", kwargs={"unavailable_date_pk": declared.pk})
    assert consumer_client.get(delete).status_code == 405


# --- the mediator ---------------------------------------------------------------------------------


def test_the_mediator_schedules_a_sitting_from_the_page(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    client = client_for(mediator)
    page = client.get(list_url(mediating_case)).content.decode()
    assert 'id="schedule-form"' in page and "张三（投诉人）" in page and "吴调解员（调解员）" in page

    response = client.post(
        reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk}),
        schedule_data(mediating_case, at(4, 14), mode="separate"),
    )

    assert response.status_code == 302 and response["Location"] == list_url(mediating_case)
    sitting = MediationSession.objects.get()
    assert (sitting.number, sitting.mode, sitting.scheduled_start) == (1, "separate", at(4, 14))
    assert set(sitting.expected_participants.all()) == {consumer, bank_agent, mediator}
    body = client.get(list_url(mediating_case)).content.decode()
    assert "已安排第 1 次调解" in body and "背对背调解" in body
    assert reverse("sessions:session_ics", kwargs={"session_pk": sitting.pk}) in body


@pytest.mark.parametrize(
    ("start", "end", "field", "error"),
    [
        (at(4, 14), at(4, 13), "scheduled_end", "预计结束时间须晚于开始时间。"),
        (at(-1, 14), at(-1, 16), "scheduled_start", "开始时间须晚于当前时间。"),
    ],
)
def test_a_refused_schedule_comes_back_with_the_error_on_its_field(
    mediating_case: Case, mediator: User, start: datetime.datetime, end: datetime.datetime, field: str, error: str
) -> None:
    data = schedule_data(mediating_case, start, scheduled_end=local(end))
    response = client_for(mediator).post(
        reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk}), data
    )
    assert response.status_code == 400
    assert response.context["schedule_form"].errors[field] == [error]
    assert error in response.content.decode()
    assert not MediationSession.objects.exists()


def test_no_one_expected_is_a_field_error(mediating_case: Case, mediator: User) -> None:
    data = schedule_data(mediating_case, at(4))
    del data["expected_participants"]
    response = client_for(mediator).post(
        reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk}), data
    )
    assert response.status_code == 400
    assert response.context["schedule_form"].errors["expected_participants"] == ["请至少选择一名应到人员。"]


def test_an_unavailable_day_is_refused_naming_who_until_the_mediator_overrides(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(4).date())
    client = client_for(mediator)
    url = reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk})

    response = client.post(url, schedule_data(mediating_case, at(4)))
    assert response.status_code == 400
    (error,) = response.context["schedule_form"].errors["scheduled_start"]
    assert "张三" in error and at(4).date().isoformat() in error
    assert not MediationSession.objects.exists()

    response = client.post(url, schedule_data(mediating_case, at(4), override_unavailability="on"))
    assert response.status_code == 302
    assert MediationSession.objects.get().overridden_unavailability[0]["user"] == consumer.pk


def test_scheduling_after_mediation_ended_is_refused_with_a_message(mediating_case: Case, mediator: User) -> None:
    services.record_agreement_effective(mediating_case, actor=mediator)
    client = client_for(mediator)
    assert 'id="schedule-form"' not in client.get(list_url(mediating_case)).content.decode()

    response = client.post(
        reverse("sessions:session_schedule", kwargs={"case_pk": mediating_case.pk}),
        schedule_data(mediating_case, at(4)),
    )

    assert response.status_code == 400
    assert "案件不在调解阶段，不能安排调解会议。" in response.content.decode()
    assert not MediationSession.objects.exists()


def test_the_mediator_sees_everyones_unavailable_days_a_party_only_their_own(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(5).date(), note="住院")
    scheduling.add_unavailable_date(mediating_case, user=bank_agent, date=at(7).date(), note="行内审计")

    body = client_for(mediator).get(list_url(mediating_case)).content.decode()
    assert "住院" in body and "行内审计" in body and "赵经理（华南商业银行）" in body
    body = client_for(consumer).get(list_url(mediating_case)).content.decode()
    assert "住院" in body and "行内审计" not in body


def test_the_mediator_reschedules_and_cancels_from_the_page(
    mediating_case: Case, sitting: MediationSession, consumer: User, mediator: User
) -> None:
    client = client_for(mediator)
    url = reverse("sessions:session_reschedule", kwargs={"session_pk": sitting.pk})
    page = client.get(url)
    assert page.status_code == 200 and local(sitting.scheduled_start) in page.content.decode()

    response = client.post(
        url, schedule_data(mediating_case, at(5, 9), expected_participants=[consumer.pk, mediator.pk])
    )
    assert response.status_code == 302
    sitting.refresh_from_db()
    assert (sitting.scheduled_start, sitting.sequence) == (at(5, 9), 1)
    assert set(sitting.expected_participants.all()) == {consumer, mediator}

    response = client.post(url, schedule_data(mediating_case, at(5, 9), scheduled_end=local(at(5, 8))))
    assert response.status_code == 400 and response.context["form"].errors["scheduled_end"]

    cancel = reverse("sessions:session_cancel", kwargs={"session_pk": sitting.pk})
    response = client.post(cancel, {"reason": ""})
    assert response.status_code == 400 and response.context["cancel_form"].errors["reason"]
    response = client.post(cancel, {"reason": "当事人已撤回投诉"})
    assert response.status_code == 302
    sitting.refresh_from_db()
    assert sitting.state == MediationSession.State.CANCELLED and sitting.cancel_reason == "当事人已撤回投诉"
    body = client.get(list_url(mediating_case)).content.decode()
    assert "当事人已撤回投诉" in body and "已取消" in body
    # A cancelled sitting is not changed again.
    assert client.get(url).status_code == 302


# --- the parties ----------------------------------------------------------------------------------


def test_a_party_declares_lists_and_removes_their_unavailable_days(
    mediating_case: Case, consumer: User, bank_agent: User
) -> None:
    client = client_for(consumer)
    add = reverse("sessions:unavailable_add", kwargs={"case_pk": mediating_case.pk})
    day = at(6).date()

    response = client.post(add, {"date": day.isoformat(), "note": "出差"})
    assert response.status_code == 302
    body = client.get(list_url(mediating_case)).content.decode()
    assert day.isoformat() in body and "出差" in body

    response = client.post(add, {"date": day.isoformat()})
    assert response.status_code == 400
    assert response.context["unavailable_form"].errors["date"] == [f"您已登记过 {day.isoformat()}。"]
    past = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    response = client.post(add, {"date": past})
    assert response.status_code == 400
    assert response.context["unavailable_form"].errors["date"] == ["不能登记已经过去的日期。"]

    entry = UnavailableDate.objects.get()
    delete = reverse("sessions:unavailable_delete", kwargs={"unavailable_date_pk": entry.pk})
    assert client_for(bank_agent).post(delete).status_code == 404
    assert client.post(delete).status_code == 302
    assert not UnavailableDate.objects.exists()
    assert LedgerEntry.objects.filter(action__startswith="sessions.unavailable.").count() == 2


def test_the_ics_download_is_the_sittings_invitation(
    mediating_case: Case, sitting: MediationSession, bank_agent: User
) -> None:
    response = client_for(bank_agent).get(reverse("sessions:session_ics", kwargs={"session_pk": sitting.pk}))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="{mediating_case.number}-1.ics"' in response["Content-Disposition"]
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST" and str(event["UID"]) == scheduling.session_uid(sitting)
    assert event.decoded("DTSTART") == sitting.scheduled_start


def test_the_case_page_links_to_the_schedule_and_shows_the_next_sitting(
    mediating_case: Case, sitting: MediationSession, consumer: User, case_manager: User
) -> None:
    for person in (consumer, case_manager):
        body = client_for(person).get(reverse("case_detail", kwargs={"pk": mediating_case.pk})).content.decode()
        assert list_url(mediating_case) in body
        assert "下一次调解：第 1 次" in body
