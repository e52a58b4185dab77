"""What the mediator writes in the mediation record, and what a party enters to confirm or object.

The forms shape the input; whether it is allowed (the mediator's, a draft, a joint-room statement
of this sitting, the right password) is for ``sessions.record`` to decide, naming the field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sessions.models import MediationRecord, Message
from sessions.record import FACTS_MAX_CHARS, OBJECTION_MAX_CHARS, OUTCOME_MAX_CHARS


class MessageIdsField(forms.Field):
    """Ticked message ids; which messages may be ticked is the service's decision (Art 18)."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        try:
            return [int(item) for item in value]
        except (TypeError, ValueError):
            raise ValidationError(_("所选发言无效。"), code="invalid") from None


class RecordForm(forms.Form):
    undisputed_facts = forms.CharField(
        label=_("无争议事实"),
        help_text=_(
            "各方当事人均无争议的事实，由当事人在线确认（在线调解规则第二十二条）。不要写入一方为达成协议作出的让步。"
        ),
        required=False,
        max_length=FACTS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    statements = MessageIdsField(
        label=_("当事人陈述"),
        help_text=_("从本场联合调解室的发言中勾选写入笔录的陈述。单方会谈中的发言不会列出，也不能写入。"),
        required=False,
    )
    outcome = forms.ChoiceField(
        label=_("调解结果"),
        choices=[("", "——")] + list(MediationRecord.Outcome.choices),
        required=False,
    )
    outcome_text = forms.CharField(
        label=_("调解结果说明"),
        required=False,
        max_length=OUTCOME_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, statements: list[Message], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["statements"].widget.choices = [
            (message.pk, f"#{message.seq} {message.author.display_name if message.author else ''}：{message.body}")
            for message in statements
        ]


def _password_field() -> forms.CharField:
    return forms.CharField(
        label=_("登录密码"),
        help_text=_("确认或提出异议前，请重新输入登录密码以核验身份。"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ConfirmForm(forms.Form):
    password = _password_field()


class ObjectForm(forms.Form):
    objection = forms.CharField(
        label=_("异议内容"),
        help_text=_("请写明笔录哪一处与事实不符、应当如何更正。"),
        max_length=OBJECTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password = _password_field()
