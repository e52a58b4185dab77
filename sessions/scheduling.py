"""Scheduling the sittings of a case: times, mode, who is expected, and everything sent about them.

The mediator schedules, reschedules and cancels; the parties (and the mediator) declare the days
they cannot attend, and a sitting on such a day is refused unless the mediator knowingly
overrides it (the override is kept on the sitting and in the ledger). Sittings are numbered
1, 2, 3, … per case under a lock on the case row, backed by the unique ``(case, number)``.

Every invitation goes out in the app and by e-mail with an iCalendar file: its UID is stable per
sitting and its SEQUENCE rises on every change, so a calendar replaces the earlier copy instead of
adding a second one (RFC 5546: METHOD:REQUEST to invite or update, METHOD:CANCEL to withdraw).
Reminders go out before each sitting (``SESSION_REMINDER_HOURS``), once each, from the deadline
sweep.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Calendar, Event, vCalAddress

from mediation import audience, ledger, permissions
from mediation.models import Case, CaseState, Role, User
from mediation.notifications import Attachment, notify
from mediation.services import CaseError
from mediators.models import Unavailability
from sessions.models import MediationSession, SessionReminder, UnavailableDate

State = MediationSession.State
REQUEST = "REQUEST"
CANCEL = "CANCEL"


class SchedulingError(CaseError):
    """Refused; ``field`` names the form field the message belongs to, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- who ------------------------------------------------------------------------------------------


def expected_candidates(case: Case) -> list[User]:
    """Who may be invited to a sitting: the consumers, the institution's people and the mediators now on the case."""
    people = audience.consumers(case) + audience.institution_people(case) + audience.mediators(case)
    return list({person.pk: person for person in people}.values())


def is_party_or_mediator(user: User, case: Case) -> bool:
    """On the case in person: a consumer, someone answering for the institution, or a mediator."""
    if not user.is_authenticated or not user.is_active:
        return False
    return any(user.has_perm(perm, case) for perm in (permissions.TAKE_PART, permissions.ANSWER, permissions.MEDIATE))


def person_label(user: User, case: Case) -> str:
    """A person's name and capacity on this case, as the schedule shows them."""
    if user.has_perm(permissions.MEDIATE, case):
        capacity = _("调解员")
    elif user.role == Role.INSTITUTION_AGENT and user.organisation_id:
        capacity = str(user.organisation)
    else:
        capacity = _("投诉人")
    return _("%(name)s（%(capacity)s）") % {"name": user.display_name, "capacity": capacity}


def get_session_for_user(user: User, pk: int | str, *, perm: str = permissions.VIEW) -> MediationSession:
    """The one door to a sitting: returns it, or 404 for anyone without ``perm`` on its case."""
    try:
        session = MediationSession.objects.select_related("case").get(pk=pk)
    except (MediationSession.DoesNotExist, ValueError):
        raise Http404 from None
    permissions.get_case_for_user(user, session.case_id, perm=perm)
    return session


def get_unavailable_date_for_owner(user: User, pk: int | str) -> UnavailableDate:
    """A declared date, for the person who declared it while still on the case; 404 for anyone else."""
    try:
        entry = UnavailableDate.objects.select_related("case").get(pk=pk)
    except (UnavailableDate.DoesNotExist, ValueError):
        raise Http404 from None
    if entry.user_id != user.pk or not is_party_or_mediator(user, entry.case):
        raise Http404
    return entry


# --- formatting -----------------------------------------------------------------------------------


def local_text(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def rooms_url(case: Case) -> str:
    return settings.PUBLIC_BASE_URL + reverse("sessions:rooms", kwargs={"case_pk": case.pk})


def schedule_url(case: Case) -> str:
    return settings.PUBLIC_BASE_URL + reverse("sessions:sessions_list", kwargs={"case_pk": case.pk})


def _values(session: MediationSession) -> dict[str, object]:
    return {
        "number": session.case.number,
        "session": session.number,
        "mode": session.get_mode_display(),
        "start": local_text(session.scheduled_start),
        "end": local_text(session.scheduled_end),
        "url": rooms_url(session.case),
    }


# --- the calendar file ----------------------------------------------------------------------------


def session_uid(session: MediationSession) -> str:
    """Stable for the sitting's whole life: calendars match updates and cancellations by it."""
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "fengqiao.local"
    return f"mediation-session-{session.pk}@{host}"


def invitation_ics(session: MediationSession, method: str | None = None) -> bytes:
    """The sitting as an iCalendar file: REQUEST while it stands, CANCEL once cancelled."""
    if method is None:
        method = CANCEL if session.state == State.CANCELLED else REQUEST
    values = _values(session)
    calendar = Calendar()
    calendar.add("prodid", "-//Fengqiao//Mediation sessions//ZH")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", session_uid(session))
    event.add("sequence", session.sequence)
    event.add("dtstamp", timezone.now().astimezone(datetime.UTC))
    event.add("dtstart", session.scheduled_start.astimezone(datetime.UTC))
    event.add("dtend", session.scheduled_end.astimezone(datetime.UTC))
    event.add("summary", _("案件 %(number)s 第 %(session)s 次调解（%(mode)s）") % values)
    event.add(
        "description",
        _("在线调解会议。请在开始前登录枫桥调解平台，进入调解室并完成身份核验。调解室：%(url)s") % values,
    )
    event.add("url", values["url"])
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = name or address
    event.add("organizer", organizer)
    # No ATTENDEE lines: one file goes to both sides, and the parties' addresses are not disclosed
    # to each other (在线调解规则 Art 29: mediation is confidential).
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def ics_filename(session: MediationSession) -> str:
    return f"{session.case.number}-{session.number}.ics"


def _attachment(session: MediationSession, method: str) -> Attachment:
    return (ics_filename(session), invitation_ics(session, method), f"text/calendar; method={method}")


# --- checks ---------------------------------------------------------------------------------------


def _lock_case(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("institution", "centre").get(pk=case.pk)


def _check_mediator(actor: User, case: Case) -> None:
    if not actor.is_active or not actor.has_perm(permissions.MEDIATE, case):
        raise SchedulingError(_("只有本案调解员可以安排调解会议。"))
    if case.state != CaseState.MEDIATING:
        raise SchedulingError(_("案件不在调解阶段，不能安排调解会议。"))


def _clean_expected(case: Case, expected: Iterable[User] | None) -> list[User]:
    candidates = {person.pk: person for person in expected_candidates(case)}
    if expected is None:
        return list(candidates.values())
    chosen = list({person.pk: person for person in expected}.values())
    if not chosen:
        raise SchedulingError(_("请至少选择一名应到人员。"), field="expected_participants")
    strangers = [person.display_name for person in chosen if person.pk not in candidates]
    if strangers:
        raise SchedulingError(
            _("%(names)s 不是本案当事人或调解员，不能邀请。") % {"names": "、".join(strangers)},
            field="expected_participants",
        )
    return [candidates[person.pk] for person in chosen]


def _check_times(case: Case, start: datetime.datetime, end: datetime.datetime, *, exclude: int | None = None) -> None:
    if end <= start:
        raise SchedulingError(_("预计结束时间须晚于开始时间。"), field="scheduled_end")
    if start <= timezone.now():
        raise SchedulingError(_("开始时间须晚于当前时间。"), field="scheduled_start")
    others = MediationSession.objects.filter(case=case, scheduled_start__lt=end, scheduled_end__gt=start)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    clash = others.exclude(state=State.CANCELLED).order_by("scheduled_start").first()
    if clash is not None:
        raise SchedulingError(
            _("与第 %(session)s 次调解（%(start)s 至 %(end)s）时间重叠。") % _values(clash), field="scheduled_start"
        )


def _days(start: datetime.datetime, end: datetime.datetime) -> list[datetime.date]:
    """The local calendar days a sitting touches."""
    first, last = timezone.localdate(start), timezone.localdate(end)
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def unavailability_conflicts(
    case: Case, people: Iterable[User], start: datetime.datetime, end: datetime.datetime
) -> list[tuple[User, datetime.date]]:
    """Who among ``people`` declared a day of the sitting unavailable: on this case, or (a mediator)
    on the roster, where such days also stop the centre scheduling them."""
    by_pk = {person.pk: person for person in people}
    days = _days(start, end)
    found: set[tuple[int, datetime.date]] = set(
        UnavailableDate.objects.filter(case=case, user_id__in=by_pk, date__in=days).values_list("user_id", "date")
    )
    periods = Unavailability.objects.filter(
        profile__user_id__in=by_pk, start_date__lte=days[-1], end_date__gte=days[0]
    ).values_list("profile__user_id", "start_date", "end_date")
    for user_id, first, last in periods:
        found.update((user_id, day) for day in days if first <= day <= last)
    return [(by_pk[user_id], day) for user_id, day in sorted(found, key=lambda item: (item[1], item[0]))]


def _check_unavailability(
    case: Case, people: list[User], start: datetime.datetime, end: datetime.datetime, override: bool
) -> list[dict[str, object]]:
    """Refuse a day someone declared unavailable, unless overridden; returns what was overridden."""
    conflicts = unavailability_conflicts(case, people, start, end)
    if conflicts and not override:
        who = "、".join(f"{person.display_name}（{day.isoformat()}）" for person, day in conflicts)
        raise SchedulingError(
            _("%(who)s 已登记当天不便参加。请另选时间，或勾选“仍按此时间安排”。") % {"who": who},
            field="scheduled_start",
        )
    return [{"user": person.pk, "name": person.display_name, "date": day.isoformat()} for person, day in conflicts]


def _check_mode(mode: str) -> None:
    if mode not in MediationSession.Mode.values:
        raise SchedulingError(_("请选择调解方式。"), field="mode")


# --- schedule, reschedule, cancel -----------------------------------------------------------------


def schedule_session(
    case: Case,
    *,
    actor: User,
    start: datetime.datetime,
    end: datetime.datetime,
    mode: str = MediationSession.Mode.JOINT,
    expected: Iterable[User] | None = None,
    override_unavailability: bool = False,
    ip: str | None = None,
) -> MediationSession:
    """Schedule the case's next sitting and invite everyone expected (all on the case by default)."""
    _check_mode(mode)
    with transaction.atomic():
        # The case row lock serialises schedulers: the next number and the overlap check see
        # every sitting committed before, so two at once cannot take the same number or slot.
        case = _lock_case(case)
        _check_mediator(actor, case)
        people = _clean_expected(case, expected)
        _check_times(case, start, end)
        overridden = _check_unavailability(case, people, start, end, override_unavailability)
        number = (MediationSession.objects.filter(case=case).aggregate(last=Max("number"))["last"] or 0) + 1
        session = MediationSession.objects.create(
            case=case,
            number=number,
            mode=mode,
            scheduled_start=start,
            scheduled_end=end,
            created_by=actor,
            invited_at=timezone.now(),
            overridden_unavailability=overridden,
        )
        session.expected_participants.set(people)
        ledger.record(
            "sessions.session.scheduled",
            actor=actor,
            case=case,
            ip=ip,
            data={**_ledger_data(session, people), "overridden_unavailability": overridden},
        )
        notify(
            people,
            "sessions.session.scheduled",
            _(
                "案件 %(number)s 已安排第 %(session)s 次调解（%(mode)s）：%(start)s 至 %(end)s（北京时间）。日历邀请见附件。调解室：%(url)s"
            )
            % _values(session),
            case=case,
            attachments=[_attachment(session, REQUEST)],
        )
    return session


def _ledger_data(session: MediationSession, people: list[User]) -> dict[str, object]:
    return {
        "session": session.pk,
        "number": session.number,
        "mode": session.mode,
        "start": session.scheduled_start.astimezone(datetime.UTC).isoformat(),
        "end": session.scheduled_end.astimezone(datetime.UTC).isoformat(),
        "expected": sorted(person.pk for person in people),
        "sequence": session.sequence,
    }


def _lock_session(session: MediationSession) -> tuple[Case, MediationSession]:
    case = _lock_case(session.case)
    locked = MediationSession.objects.select_for_update().get(pk=session.pk)
    locked.case = case
    return case, locked


def reschedule_session(
    session: MediationSession,
    *,
    actor: User,
    start: datetime.datetime,
    end: datetime.datetime,
    mode: str,
    expected: Iterable[User] | None = None,
    override_unavailability: bool = False,
    ip: str | None = None,
) -> MediationSession:
    """Move a sitting that has not begun (or change its mode or who is expected); everyone is told.

    The invitation's SEQUENCE rises so calendars update the event; people no longer expected get
    a cancellation for it.
    """
    _check_mode(mode)
    with transaction.atomic():
        case, session = _lock_session(session)
        _check_mediator(actor, case)
        if session.state != State.SCHEDULED:
            raise SchedulingError(_("只能改期尚未开始的调解会议。"))
        people = _clean_expected(case, expected)
        _check_times(case, start, end, exclude=session.pk)
        overridden = _check_unavailability(case, people, start, end, override_unavailability)
        before = _ledger_data(session, list(session.expected_participants.all()))
        dropped = [person for person in session.expected_participants.all() if person.pk not in {p.pk for p in people}]
        session.scheduled_start, session.scheduled_end, session.mode = start, end, mode
        session.sequence += 1
        session.invited_at = timezone.now()
        session.overridden_unavailability = overridden
        session.save(
            update_fields=[
                "scheduled_start",
                "scheduled_end",
                "mode",
                "sequence",
                "invited_at",
                "overridden_unavailability",
            ]
        )
        session.expected_participants.set(people)
        ledger.record(
            "sessions.session.rescheduled",
            actor=actor,
            case=case,
            ip=ip,
            data={"before": before, "after": _ledger_data(session, people), "overridden_unavailability": overridden},
        )
        values = _values(session)
        notify(
            people,
            "sessions.session.rescheduled",
            _(
                "案件 %(number)s 第 %(session)s 次调解已改为 %(start)s 至 %(end)s（北京时间，%(mode)s）。更新后的日历邀请见附件。调解室：%(url)s"
            )
            % values,
            case=case,
            attachments=[_attachment(session, REQUEST)],
        )
        if dropped:
            notify(
                dropped,
                "sessions.session.uninvited",
                _("案件 %(number)s 第 %(session)s 次调解调整了参加人员，您无需参加。日历中的该会议已取消。") % values,
                case=case,
                attachments=[_attachment(session, CANCEL)],
            )
    return session


def cancel_session(session: MediationSession, *, actor: User, reason: str, ip: str | None = None) -> MediationSession:
    """Cancel a sitting that has not begun; everyone expected gets the reason and a calendar cancellation."""
    reason = reason.strip()
    if not reason:
        raise SchedulingError(_("请写明取消原因。"), field="reason")
    with transaction.atomic():
        case, session = _lock_session(session)
        if not actor.is_active or not actor.has_perm(permissions.MEDIATE, case):
            raise SchedulingError(_("只有本案调解员可以取消调解会议。"))
        if session.state != State.SCHEDULED:
            raise SchedulingError(_("只能取消尚未开始的调解会议。"))
        session.state = State.CANCELLED
        session.cancelled_at = timezone.now()
        session.cancel_reason = reason
        session.sequence += 1
        session.save(update_fields=["state", "cancelled_at", "cancel_reason", "sequence"])
        people = list(session.expected_participants.all())
        ledger.record(
            "sessions.session.cancelled",
            actor=actor,
            case=case,
            ip=ip,
            data={**_ledger_data(session, people), "reason": reason},
        )
        notify(
            people,
            "sessions.session.cancelled",
            _("案件 %(number)s 第 %(session)s 次调解（原定 %(start)s，北京时间）已取消。原因：%(reason)s")
            % {**_values(session), "reason": reason},
            case=case,
            attachments=[_attachment(session, CANCEL)],
        )
    return session


# --- unavailable dates ----------------------------------------------------------------------------


def add_unavailable_date(
    case: Case, *, user: User, date: datetime.date, note: str = "", ip: str | None = None
) -> UnavailableDate:
    """Declare a day ``user`` cannot attend; the mediators hear of it if a sitting is already set then."""
    with transaction.atomic():
        case = _lock_case(case)
        if not is_party_or_mediator(user, case):
            raise SchedulingError(_("只有本案当事人和调解员可以登记不便参加的日期。"))
        if case.is_final:
            raise SchedulingError(_("案件已办结，无需再登记不便参加的日期。"))
        if date < timezone.localdate():
            raise SchedulingError(_("不能登记已经过去的日期。"), field="date")
        if UnavailableDate.objects.filter(case=case, user=user, date=date).exists():
            raise SchedulingError(_("您已登记过 %(date)s。") % {"date": date.isoformat()}, field="date")
        entry = UnavailableDate.objects.create(case=case, user=user, date=date, note=note.strip())
        ledger.record(
            "sessions.unavailable.added",
            actor=user,
            case=case,
            ip=ip,
            data={"unavailable_date": entry.pk, "date": date.isoformat(), "note": entry.note},
        )
        clashes = [
            session
            for session in MediationSession.objects.filter(
                case=case, state=State.SCHEDULED, expected_participants=user
            ).select_related("case")
            if date in _days(session.scheduled_start, session.scheduled_end)
        ]
        for session in clashes:
            notify(
                [person for person in audience.mediators(case) if person.pk != user.pk],
                "sessions.unavailable.clash",
                _("%(name)s 登记 %(date)s 不便参加，与已安排的案件 %(number)s 第 %(session)s 次调解冲突，请考虑改期。")
                % {**_values(session), "name": user.display_name, "date": date.isoformat()},
                case=case,
            )
    return entry


def remove_unavailable_date(entry: UnavailableDate, *, user: User, ip: str | None = None) -> None:
    with transaction.atomic():
        if entry.user_id != user.pk:
            raise SchedulingError(_("只能删除自己登记的日期。"))
        data = {"unavailable_date": entry.pk, "date": entry.date.isoformat()}
        case = entry.case
        entry.delete()
        ledger.record("sessions.unavailable.removed", actor=user, case=case, ip=ip, data=data)


# --- reminders (run by manage.py sweep_deadlines) -------------------------------------------------


def reminder_hours() -> list[int]:
    return sorted({int(hours) for hours in settings.SESSION_REMINDER_HOURS if int(hours) > 0})


def reminder_step(session: MediationSession, now: datetime.datetime, thresholds: list[int]) -> int | None:
    """The threshold due now, if any: the smallest one not below the time left.

    A threshold longer than the notice the invitation gave is skipped: it would fire at once,
    right after the invitation itself.
    """
    left = session.scheduled_start - now
    if left <= datetime.timedelta(0):
        return None
    notice = session.scheduled_start - (session.invited_at or session.created_at)
    return next((hours for hours in thresholds if left <= datetime.timedelta(hours=hours) < notice), None)


def _remind(session_pk: int, case_pk: int, now: datetime.datetime, thresholds: list[int]) -> bool:
    with transaction.atomic():
        # Case first, as the scheduling services lock: a reschedule and a sweep cannot interleave.
        case = Case.objects.select_for_update().get(pk=case_pk)
        session = MediationSession.objects.select_for_update().filter(pk=session_pk, state=State.SCHEDULED).first()
        if session is None:
            return False
        session.case = case
        step = reminder_step(session, now, thresholds)
        if step is None:
            return False
        _reminder, created = SessionReminder.objects.get_or_create(
            session=session, hours_before=step, start=session.scheduled_start
        )
        if not created:
            return False
        hours = max(1, round((session.scheduled_start - now).total_seconds() / 3600))
        message = ngettext(
            "提醒：案件 %(number)s 第 %(session)s 次调解将于 %(start)s（北京时间）开始，还有约 %(hours)s 小时。调解室：%(url)s",
            "提醒：案件 %(number)s 第 %(session)s 次调解将于 %(start)s（北京时间）开始，还有约 %(hours)s 小时。调解室：%(url)s",
            hours,
        ) % {**_values(session), "hours": hours}
        people = [person for person in session.expected_participants.all() if is_party_or_mediator(person, case)]
        notify(people, "sessions.session.reminder", message, case=case)
    return True


def send_session_reminders(now: datetime.datetime) -> int:
    """Remind the people expected at every sitting starting within the largest threshold; idempotent."""
    thresholds = reminder_hours()
    if not thresholds:
        return 0
    horizon = now + datetime.timedelta(hours=thresholds[-1])
    candidates = MediationSession.objects.filter(
        state=State.SCHEDULED, scheduled_start__gt=now, scheduled_start__lte=horizon
    ).only("pk", "case_id", "scheduled_start", "invited_at", "created_at")
    return sum(
        _remind(session.pk, session.case_id, now, thresholds)
        for session in candidates
        if reminder_step(session, now, thresholds) is not None
    )


# --- the demo ----------------------------------------------------------------------------------------


def schedule_demo_sitting(sender: object, *, case: Case, mediator: User, **kwargs: object) -> None:
    """``mediation.demo``: the demo case in mediation gets its first sitting tomorrow at 10:00
    (local time), two hours, everyone on the case invited (the .ics goes to the console e-mail)."""
    tomorrow = timezone.localtime() + datetime.timedelta(days=1)
    start = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)
    schedule_session(
        case, actor=mediator, start=start, end=start + datetime.timedelta(hours=2), override_unavailability=True
    )
