"""Forms for opening a sitting: the check-in, the recording decision, the mediator's order controls."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CheckInForm(forms.Form):
    code = forms.RegexField(
        label=_("短信/邮件验证码"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("验证码为 6 位数字。"), "required": _("请输入验证码。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6}),
    )
    # 在线调解规则 Art 17; 在线诉讼规则 Art 7: the warning is on the page above this box.
    acknowledged = forms.BooleanField(
        label=_("我已阅读并理解上述风险提示，保证如实陈述，不进行虚假调解。"),
        error_messages={"required": _("请阅读并确认虚假调解风险提示。")},
    )


class RecordingForm(forms.Form):
    """在线调解规则 Art 22: recording only with the parties' express consent."""

    consent = forms.TypedChoiceField(
        label=_("当事人是否同意录音录像"),
        choices=[("yes", _("同意录音录像")), ("no", _("不同意录音录像"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择当事人是否同意录音录像。")},
    )


class AttendanceActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("mute", _("禁言")),
            ("unmute", _("解除禁言")),
            ("caucus", _("请入单方会谈室")),
            ("joint", _("请回联合调解室")),
        ],
        error_messages={"required": _("请选择操作。"), "invalid_choice": _("不支持的操作。")},
    )
