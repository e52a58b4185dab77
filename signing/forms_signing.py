"""Forms for signing and declining: password re-entry, the one-time code, what the signer saw."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


def _password_field() -> forms.CharField:
    return forms.CharField(label=_("登录密码"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


def _code_field() -> forms.RegexField:
    return forms.RegexField(
        label=_("短信/邮件验证码"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("验证码为 6 位数字。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6}),
    )


class SignForm(forms.Form):
    password = _password_field()
    code = _code_field()
    confirm = forms.BooleanField(
        label=_("我已完整阅读上方协议文本，确认其内容，自愿签署。"),
        error_messages={"required": _("请确认您已阅读并同意协议内容。")},
    )
    seen_sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
    request_token = forms.CharField(max_length=64, widget=forms.HiddenInput)


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("拒绝签署的理由"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    password = _password_field()
    code = _code_field()
