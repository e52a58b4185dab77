"""Template helpers for labels and clocks that the models do not carry themselves."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

from mediation import clocks
from mediation.classification import issue_type_label as _issue_type_label
from mediation.models import Case, Deadline

register = template.Library()


@register.filter
def issue_type_label(case: Case) -> str:
    return _issue_type_label(case.product_category, case.issue_type)


@register.simple_tag(takes_context=True)
def remaining(context: template.Context, deadline: Deadline) -> clocks.Remaining:
    """One working calendar per request: a list of N deadlines costs the same queries as one."""
    request = context.get("request")
    calendar = getattr(request, "working_calendar", None)
    if calendar is None:
        calendar = clocks.WorkingCalendar()
        if request is not None:
            request.working_calendar = calendar
    return clocks.remaining(deadline, calendar=calendar)


@register.filter
def minutes(delta: datetime.timedelta | None) -> int:
    """Whole minutes, rounded up, so "retry in N minutes" is never too early."""
    if delta is None:
        return 0
    return max(1, -(-int(delta.total_seconds()) // 60))


@register.filter
def from_now(delta: datetime.timedelta | None) -> datetime.datetime:
    return timezone.localtime(timezone.now() + (delta or datetime.timedelta()))


@register.filter
def absolute(value: int) -> int:
    return abs(value)
