"""Forms of the evaluation pages. They check input; ``mediators.evaluation`` checks the rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mediation.models import User
from mediators.models import MediatorComplaint


class MediatorChoiceField(forms.ModelChoiceField):
    """Mediators listed by the name the parties know them by."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


def _mediator_field(mediators: Iterable[User], invalid: Any) -> MediatorChoiceField:
    return MediatorChoiceField(
        label=_("调解员"),
        queryset=User.objects.filter(pk__in=[m.pk for m in mediators]).order_by("real_name", "id"),
        error_messages={"invalid_choice": invalid},
    )


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("评分"),
        coerce=int,
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        widget=forms.RadioSelect,
        help_text=_("5分为非常满意，1分为非常不满意。"),
        error_messages={"invalid_choice": _("评分应在1至5分之间。")},
    )
    comment = forms.CharField(
        label=_("评价"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, mediators: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {
            "mediator": _mediator_field(mediators, _("您已评价过该调解员，或该调解员未主持本案调解。")),
            **self.fields,
        }


class ComplaintForm(forms.Form):
    ground = forms.ChoiceField(label=_("投诉事由"), choices=MediatorComplaint.Ground.choices)
    text = forms.CharField(
        label=_("投诉内容"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("请说明发生的时间、经过和相关证据。调解员不会得知投诉人的身份。"),
    )

    def __init__(self, *args: Any, mediators: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"mediator": _mediator_field(mediators, _("该调解员未参与本案调解。")), **self.fields}


class ComplaintDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("处理决定"),
        choices=[
            (MediatorComplaint.Status.UPHELD, MediatorComplaint.Status.UPHELD.label),
            (MediatorComplaint.Status.DISMISSED, MediatorComplaint.Status.DISMISSED.label),
        ],
        widget=forms.RadioSelect,
    )
    resolution = forms.CharField(
        label=_("处理结果"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("说明查明的事实、处理依据和措施，将告知投诉人。"),
    )
