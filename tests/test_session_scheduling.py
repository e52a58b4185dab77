"""Scheduling sittings: the rules, the numbering, unavailable dates, the .ics invitation, reminders."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from icalendar import Calendar

from mediation import services
from mediation.models import Case, LedgerEntry, Notification, User
from mediation.sweep import sweep_deadlines
from mediators.models import MediatorProfile
from sessions import scheduling
from sessions.models import MediationSession, SessionReminder, UnavailableDate
from sessions.scheduling import SchedulingError

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


def at(days: int, hour: int = 10, minute: int = 0) -> datetime.datetime:
    """``days`` from today at ``hour``:``minute``, Beijing time."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def schedule(case: Case, mediator: User, days: int = 3, hour: int = 10, **kwargs: Any) -> MediationSession:
    kwargs.setdefault("start", at(days, hour))
    kwargs.setdefault("end", kwargs["start"] + 2 * HOUR)
    return scheduling.schedule_session(case, actor=mediator, **kwargs)


def refused(field: str | None, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(SchedulingError) as error:
        call(*args, **kwargs)
    assert error.value.field == field
    return error.value.message


def parsed(ics: bytes) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def kinds(user: User) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


# --- scheduling rules -----------------------------------------------------------------------------


def test_sittings_are_numbered_per_case_and_invite_everyone_on_it_by_default(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    first = schedule(mediating_case, mediator, days=2)
    second = schedule(mediating_case, mediator, days=4, mode=MediationSession.Mode.SEPARATE)

    assert (first.number, second.number) == (1, 2)
    assert second.mode == "separate" and second.state == MediationSession.State.SCHEDULED
    assert set(first.expected_participants.all()) == {consumer, bank_agent, mediator}
    for person in (consumer, bank_agent, mediator):
        assert kinds(person).count("sessions.session.scheduled") == 2
    entry = LedgerEntry.objects.filter(action="sessions.session.scheduled", case=mediating_case).last()
    assert entry is not None and entry.actor == mediator
    assert entry.data["number"] == 2 and entry.data["mode"] == "separate"
    assert sorted(entry.data["expected"]) == sorted([consumer.pk, bank_agent.pk, mediator.pk])


def test_the_end_must_come_after_the_start(mediating_case: Case, mediator: User) -> None:
    start = at(3)
    message = refused("scheduled_end", schedule, mediating_case, mediator, start=start, end=start)
    assert message == "预计结束时间须晚于开始时间。"
    assert not MediationSession.objects.exists()


def test_the_start_must_be_in_the_future(mediating_case: Case, mediator: User) -> None:
    start = timezone.now() - HOUR
    message = refused("scheduled_start", schedule, mediating_case, mediator, start=start, end=start + 2 * HOUR)
    assert message == "开始时间须晚于当前时间。"
    assert not MediationSession.objects.exists()


def test_a_sitting_may_not_overlap_another_unless_that_one_was_cancelled(mediating_case: Case, mediator: User) -> None:
    first = schedule(mediating_case, mediator, days=3, hour=10)
    message = refused("scheduled_start", schedule, mediating_case, mediator, start=at(3, 11), end=at(3, 13))
    assert "第 1 次调解" in message and "重叠" in message
    # Touching end to start is not an overlap.
    assert schedule(mediating_case, mediator, start=at(3, 12), end=at(3, 13)).number == 2

    scheduling.cancel_session(first, actor=mediator, reason="调解员临时出差")
    assert schedule(mediating_case, mediator, start=at(3, 10), end=at(3, 11)).number == 3


def test_only_the_case_mediator_schedules(
    mediating_case: Case, consumer: User, bank_agent: User, case_manager: User, other_mediator: User
) -> None:
    for person in (consumer, bank_agent, case_manager, other_mediator):
        message = refused(None, schedule, mediating_case, person)
        assert message == "只有本案调解员可以安排调解会议。"
    assert not MediationSession.objects.exists()


def test_no_sitting_once_mediation_has_ended(mediating_case: Case, mediator: User) -> None:
    services.record_agreement_effective(mediating_case, actor=mediator)
    assert refused(None, schedule, mediating_case, mediator) == "案件不在调解阶段，不能安排调解会议。"


def test_expected_participants_must_be_on_the_case_and_at_least_one(
    mediating_case: Case, consumer: User, mediator: User, outsider: User
) -> None:
    message = refused("expected_participants", schedule, mediating_case, mediator, expected=[consumer, outsider])
    assert "王五" in message
    assert (
        refused("expected_participants", schedule, mediating_case, mediator, expected=[]) == "请至少选择一名应到人员。"
    )

    sitting = schedule(mediating_case, mediator, expected=[consumer, mediator])
    assert set(sitting.expected_participants.all()) == {consumer, mediator}


def test_a_declared_unavailable_day_refuses_the_sitting_naming_who_unless_overridden(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(3).date(), note="住院复查")

    message = refused("scheduled_start", schedule, mediating_case, mediator, days=3)
    assert "张三" in message and at(3).date().isoformat() in message and "赵经理" not in message
    assert not MediationSession.objects.exists()
    # Not expected, not in the way.
    assert schedule(mediating_case, mediator, days=3, expected=[bank_agent, mediator]).number == 1

    sitting = schedule(mediating_case, mediator, days=3, hour=15, override_unavailability=True)
    assert sitting.overridden_unavailability == [
        {"user": consumer.pk, "name": "张三", "date": at(3).date().isoformat()}
    ]
    entry = LedgerEntry.objects.filter(action="sessions.session.scheduled").last()
    assert entry is not None and entry.data["overridden_unavailability"] == sitting.overridden_unavailability


def test_a_sitting_across_midnight_is_checked_on_both_days(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(4).date())
    refused("scheduled_start", schedule, mediating_case, mediator, start=at(3, 23), end=at(4, 0, 30))


def test_the_mediators_roster_unavailability_counts_too(mediating_case: Case, mediator: User) -> None:
    profile = MediatorProfile.objects.get(user=mediator)
    profile.unavailable.create(start_date=at(2).date(), end_date=at(5).date(), reason="培训")
    message = refused("scheduled_start", schedule, mediating_case, mediator, days=4)
    assert "吴调解员" in message


@pytest.mark.django_db(transaction=True)
def test_sittings_get_distinct_numbers_when_scheduled_at_once(mediating_case: Case, mediator: User) -> None:
    numbers: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def book(day: int) -> None:
        try:
            barrier.wait()
            numbers.append(schedule(mediating_case, mediator, days=day).number)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(day,)) for day in (2, 3, 4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(numbers) == [1, 2, 3, 4]


# --- reschedule and cancel ------------------------------------------------------------------------


def test_rescheduling_moves_the_sitting_tells_everyone_and_uninvites_the_dropped(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    sitting = schedule(mediating_case, mediator, days=3)
    other = schedule(mediating_case, mediator, days=6)

    moved = scheduling.reschedule_session(
        sitting, actor=mediator, start=at(4, 9), end=at(4, 11), mode="separate", expected=[consumer, mediator]
    )

    assert (moved.number, moved.sequence, moved.mode) == (1, 1, "separate")
    assert moved.scheduled_start == at(4, 9)
    assert kinds(consumer)[-1] == "sessions.session.rescheduled"
    assert kinds(bank_agent)[-1] == "sessions.session.uninvited"
    entry = LedgerEntry.objects.get(action="sessions.session.rescheduled")
    utc = datetime.UTC
    assert entry.data["before"]["start"] == at(3).astimezone(utc).isoformat()
    assert entry.data["after"]["start"] == at(4, 9).astimezone(utc).isoformat()
    # The same rules as scheduling, the sitting itself aside.
    refused(
        "scheduled_start",
        scheduling.reschedule_session,
        moved,
        actor=mediator,
        start=at(6, 11),
        end=at(6, 12),
        mode="joint",
    )
    refused(
        "scheduled_end",
        scheduling.reschedule_session,
        moved,
        actor=mediator,
        start=at(4, 11),
        end=at(4, 10),
        mode="joint",
    )
    assert (
        scheduling.reschedule_session(moved, actor=mediator, start=at(4, 10), end=at(4, 12), mode="joint").sequence == 2
    )
    assert other.number == 2
    refused(None, scheduling.reschedule_session, moved, actor=consumer, start=at(5), end=at(5, 11), mode="joint")


def test_cancelling_needs_a_reason_and_only_a_scheduled_sitting(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    sitting = schedule(mediating_case, mediator)
    assert refused("reason", scheduling.cancel_session, sitting, actor=mediator, reason="  ") == "请写明取消原因。"
    refused(None, scheduling.cancel_session, sitting, actor=consumer, reason="不想参加")

    cancelled = scheduling.cancel_session(sitting, actor=mediator, reason="双方已自行和解")

    assert cancelled.state == MediationSession.State.CANCELLED and cancelled.sequence == 1
    assert cancelled.cancel_reason == "双方已自行和解"
    assert "双方已自行和解" in Notification.objects.filter(recipient=consumer).first().message  # type: ignore[union-attr]
    assert LedgerEntry.objects.get(action="sessions.session.cancelled").data["reason"] == "双方已自行和解"
    refused(None, scheduling.cancel_session, cancelled, actor=mediator, reason="再次取消")
    refused(None, scheduling.reschedule_session, cancelled, actor=mediator, start=at(5), end=at(5, 11), mode="joint")


# --- unavailable dates ----------------------------------------------------------------------------


def test_parties_declare_unavailable_dates_not_in_the_past_and_not_twice(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, outsider: User, case_manager: User
) -> None:
    day = at(5).date()
    entry = scheduling.add_unavailable_date(mediating_case, user=consumer, date=day, note="出差")
    scheduling.add_unavailable_date(mediating_case, user=bank_agent, date=day)
    scheduling.add_unavailable_date(mediating_case, user=mediator, date=day)

    assert refused("date", scheduling.add_unavailable_date, mediating_case, user=consumer, date=day) == (
        f"您已登记过 {day.isoformat()}。"
    )
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    message = refused("date", scheduling.add_unavailable_date, mediating_case, user=consumer, date=yesterday)
    assert message == "不能登记已经过去的日期。"
    for person in (outsider, case_manager):
        refused(None, scheduling.add_unavailable_date, mediating_case, user=person, date=day)
    assert UnavailableDate.objects.count() == 3
    assert LedgerEntry.objects.filter(action="sessions.unavailable.added").count() == 3

    refused(None, scheduling.remove_unavailable_date, entry, user=bank_agent)
    scheduling.remove_unavailable_date(entry, user=consumer)
    assert not UnavailableDate.objects.filter(user=consumer).exists()
    assert LedgerEntry.objects.get(action="sessions.unavailable.removed").data["date"] == day.isoformat()


def test_a_declared_day_clashing_with_a_scheduled_sitting_alerts_the_mediator(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    schedule(mediating_case, mediator, days=3)
    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(4).date())
    assert "sessions.unavailable.clash" not in kinds(mediator)

    scheduling.add_unavailable_date(mediating_case, user=consumer, date=at(3).date())
    clash = Notification.objects.get(recipient=mediator, kind="sessions.unavailable.clash")
    assert "张三" in clash.message and "第 1 次调解" in clash.message


# --- the invitation -------------------------------------------------------------------------------


def test_the_ics_keeps_its_uid_and_raises_its_sequence_through_reschedule_and_cancel(
    mediating_case: Case, mediator: User
) -> None:
    sitting = schedule(mediating_case, mediator, days=3)
    calendar, event = parsed(scheduling.invitation_ics(sitting))
    uid = str(event["UID"])

    assert str(calendar["METHOD"]) == "REQUEST"
    assert uid == f"mediation-session-{sitting.pk}@127.0.0.1"
    assert event["SEQUENCE"] == 0 and str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == at(3) and event.decoded("DTEND") == at(3) + 2 * HOUR
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert b"DTSTART:" in scheduling.invitation_ics(sitting) and b"Z\r\n" in scheduling.invitation_ics(sitting)
    assert mediating_case.number in str(event["SUMMARY"])
    assert str(event["URL"]).endswith(f"/cases/{mediating_case.pk}/rooms/")

    scheduling.reschedule_session(sitting, actor=mediator, start=at(5, 14), end=at(5, 16), mode="joint")
    sitting.refresh_from_db()
    calendar, event = parsed(scheduling.invitation_ics(sitting))
    assert (str(event["UID"]), event["SEQUENCE"], str(calendar["METHOD"])) == (uid, 1, "REQUEST")
    assert event.decoded("DTSTART") == at(5, 14)

    scheduling.cancel_session(sitting, actor=mediator, reason="改为线下调解")
    sitting.refresh_from_db()
    calendar, event = parsed(scheduling.invitation_ics(sitting))
    assert (str(event["UID"]), event["SEQUENCE"], str(calendar["METHOD"])) == (uid, 2, "CANCEL")
    assert str(event["STATUS"]) == "CANCELLED"


def test_invitations_are_e_mailed_with_the_ics_after_commit(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    mailoutbox: list[mail.EmailMessage],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        sitting = schedule(mediating_case, mediator, days=3)

    assert sorted(message.to[0] for message in mailoutbox) == sorted([consumer.email, bank_agent.email, mediator.email])
    for message in mailoutbox:
        assert message.subject.startswith(f"[{mediating_case.number}]")
        ((filename, content, mimetype),) = message.attachments  # type: ignore[misc]
        assert filename == f"{mediating_case.number}-1.ics" and mimetype == "text/calendar; method=REQUEST"
        _calendar, event = parsed(content.encode() if isinstance(content, str) else content)
        assert str(event["UID"]) == scheduling.session_uid(sitting)
        assert 'text/calendar; method="REQUEST"' in message.message().as_string()

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.cancel_session(sitting, actor=mediator, reason="调解员回避")
    assert len(mailoutbox) == 3
    assert all(message.attachments[0][2] == "text/calendar; method=CANCEL" for message in mailoutbox)  # type: ignore[index]


# --- reminders ------------------------------------------------------------------------------------


def reminders(user: User) -> int:
    return Notification.objects.filter(recipient=user, kind="sessions.session.reminder").count()


def test_reminders_go_out_24_hours_and_1_hour_before_once_each(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, case_manager: User
) -> None:
    sitting = schedule(mediating_case, mediator, days=3)
    start = sitting.scheduled_start

    sent = [
        scheduling.send_session_reminders(start - delta)
        for delta in (25 * HOUR, 24 * HOUR, 24 * HOUR, 23 * HOUR, 2 * HOUR, HOUR, HOUR / 2, -HOUR)
    ]

    assert sent == [0, 1, 0, 0, 0, 1, 0, 0]
    assert (reminders(consumer), reminders(bank_agent), reminders(mediator), reminders(case_manager)) == (2, 2, 2, 0)
    assert sorted(SessionReminder.objects.values_list("hours_before", flat=True)) == [1, 24]
    last = Notification.objects.filter(recipient=consumer, kind="sessions.session.reminder").first()
    assert last is not None and "还有约 1 小时" in last.message and mediating_case.number in last.message


def test_the_deadline_sweep_sends_the_sitting_reminders(
    mediating_case: Case, consumer: User, mediator: User, settings: Any
) -> None:
    settings.SESSION_REMINDER_HOURS = [48]
    sitting = schedule(mediating_case, mediator, days=5)

    sweep_deadlines(now=sitting.scheduled_start - 47 * HOUR)
    sweep_deadlines(now=sitting.scheduled_start - 46 * HOUR)

    assert reminders(consumer) == 1
    assert SessionReminder.objects.get().hours_before == 48


def test_a_rescheduled_sitting_is_reminded_again_and_a_cancelled_one_never(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    sitting = schedule(mediating_case, mediator, days=3)
    assert scheduling.send_session_reminders(sitting.scheduled_start - 24 * HOUR) == 1
    moved = scheduling.reschedule_session(sitting, actor=mediator, start=at(5), end=at(5, 12), mode="joint")
    assert scheduling.send_session_reminders(moved.scheduled_start - 24 * HOUR) == 1

    scheduling.cancel_session(moved, actor=mediator, reason="已和解")
    assert scheduling.send_session_reminders(moved.scheduled_start - HOUR) == 0
    assert reminders(consumer) == 2


def test_a_threshold_longer_than_the_notice_given_is_skipped(mediating_case: Case, mediator: User) -> None:
    start = timezone.now() + 5 * HOUR
    sitting = schedule(mediating_case, mediator, start=start, end=start + HOUR)

    assert scheduling.send_session_reminders(start - 4 * HOUR) == 0
    assert scheduling.send_session_reminders(start - HOUR) == 1
    assert list(SessionReminder.objects.filter(session=sitting).values_list("hours_before", flat=True)) == [1]


def test_someone_removed_from_the_case_is_not_reminded(
    mediating_case: Case, consumer: User, mediator: User, other_mediator: User, case_manager: User
) -> None:
    services.add_co_mediator(mediating_case, actor=case_manager, mediator=other_mediator)
    sitting = schedule(mediating_case, mediator)
    assert other_mediator in sitting.expected_participants.all()
    services.remove_mediator(mediating_case, actor=case_manager, mediator=other_mediator, reason="回避")

    scheduling.send_session_reminders(sitting.scheduled_start - HOUR)

    assert reminders(consumer) == 1 and reminders(other_mediator) == 0
