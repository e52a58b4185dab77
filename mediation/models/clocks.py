from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ClockKind(models.TextChoices):
    INSTITUTION_ANSWER = "institution_answer", _("机构答复期限")
    PARTY_CHOICE = "party_choice", _("当事人共同选定调解员期限")
    ASSIGNMENT = "assignment", _("调解中心指定调解员期限")
    MEDIATOR_ACCEPTANCE = "mediator_acceptance", _("调解员接受委派期限")
    MEDIATION_TERM = "mediation_term", _("调解期限")
    JUDICIAL_CONFIRMATION = "judicial_confirmation", _("申请司法确认期限")
    COURT_ACCEPTANCE = "court_acceptance", _("法院决定是否受理期限")
    COURT_RULING = "court_ruling", _("法院审查裁定期限")


class DayUnit(models.TextChoices):
    CALENDAR = "calendar", _("自然日")
    WORKING = "working", _("工作日")


class Deadline(models.Model):
    """One running legal clock on a case. ``due_date`` is the last day (inclusive, Asia/Shanghai).

    The due date is always derived by the clock engine (``mediation.clocks``) from the start
    date, the length, approved extensions and paused days; it is stored for sorting and sweeping.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("计时中")
        PAUSED = "paused", _("已暂停")
        MET = "met", _("已完成")
        EXPIRED = "expired", _("已超期")
        CANCELLED = "cancelled", _("已取消")

    case = models.ForeignKey("mediation.Case", on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=30, choices=ClockKind.choices)
    unit = models.CharField(max_length=10, choices=DayUnit.choices)
    start_date = models.DateField()
    length_days = models.PositiveSmallIntegerField()
    extension_days = models.PositiveSmallIntegerField(default=0)
    paused_days = models.PositiveSmallIntegerField(default=0)
    paused_since = models.DateField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True)
    due_date = models.DateField(db_index=True)
    provisional = models.BooleanField(
        default=False,
        help_text=_("计算所用年份的节假日安排尚未公布，按周一至周五推算，公布后自动重算。"),
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=models.Q(status__in=["running", "paused"]),
                name="one_open_clock_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_date}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.RUNNING, self.Status.PAUSED)


class DeadlineReminder(models.Model):
    """One reminder sent for a clock; the unique key makes the sweep idempotent."""

    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.SmallIntegerField()
    due_date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deadline", "days_before", "due_date"], name="one_reminder_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.deadline_id} −{self.days_before}"


class CalendarYear(models.Model):
    """A year's official holiday schedule loaded by an administrator (State Council notice)."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(_("依据"), max_length=300, blank=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class CalendarDay(models.Model):
    """An exception to Monday–Friday: a weekday holiday or a weekend adjusted workday (调休)."""

    year = models.ForeignKey(CalendarYear, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("名称"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("节假日或调休日")
        verbose_name_plural = _("节假日或调休日")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"
