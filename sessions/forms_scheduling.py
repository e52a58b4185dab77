"""Forms of the scheduling page: a sitting's times, mode and people; a day a party cannot attend."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from mediation.models import Case, User
from sessions import scheduling
from sessions.models import MediationSession

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PersonChoiceField(forms.ModelMultipleChoiceField):
    def __init__(self, *args: Any, case: Case | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case = case

    def label_from_instance(self, obj: Any) -> str:
        return scheduling.person_label(obj, self.case) if self.case is not None else obj.display_name


class ScheduleForm(forms.Form):
    """Schedule or reschedule a sitting; the rules (future, no overlap, unavailable days) are the service's."""

    scheduled_start = forms.DateTimeField(label=_("开始时间"), widget=DATETIME_INPUT)
    scheduled_end = forms.DateTimeField(label=_("预计结束时间"), widget=DATETIME_INPUT)
    mode = forms.ChoiceField(
        label=_("调解方式"),
        choices=MediationSession.Mode.choices,
        initial=MediationSession.Mode.JOINT,
        widget=forms.RadioSelect,
    )
    expected_participants = PersonChoiceField(
        label=_("应到人员"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一名应到人员。")},
    )
    override_unavailability = forms.BooleanField(
        label=_("仍按此时间安排（已知悉有人登记当天不便参加）"), required=False
    )

    def __init__(self, *args: Any, case: Case, session: MediationSession | None = None, **kwargs: Any) -> None:
        people = scheduling.expected_candidates(case)
        if session is not None:
            kwargs.setdefault(
                "initial",
                {
                    "scheduled_start": session.scheduled_start,
                    "scheduled_end": session.scheduled_end,
                    "mode": session.mode,
                    "expected_participants": [person.pk for person in session.expected_participants.all()],
                },
            )
        super().__init__(*args, **kwargs)
        field = cast(PersonChoiceField, self.fields["expected_participants"])
        field.case = case
        field.queryset = User.objects.filter(pk__in=[person.pk for person in people]).order_by("role", "pk")
        self.initial.setdefault("expected_participants", [person.pk for person in people])

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "start": data["scheduled_start"],
            "end": data["scheduled_end"],
            "mode": data["mode"],
            "expected": list(data["expected_participants"]),
            "override_unavailability": data["override_unavailability"],
        }


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("取消原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class UnavailableDateForm(forms.Form):
    date = forms.DateField(label=_("不便参加的日期"), widget=DATE_INPUT)
    note = forms.CharField(label=_("说明（可选）"), max_length=200, required=False)
