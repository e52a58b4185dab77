"""What the parties enter while preparing the application; the rules are in ``judicial_link.application``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class FactsForm(forms.Form):
    domicile_address = forms.CharField(
        label=_("住所地址"), max_length=200, required=False, help_text=_("身份证登记的住址或经常居住地。")
    )
    domicile_region = forms.CharField(
        label=_("住所所在地区"), max_length=100, required=False, help_text=_("写到区县，例如：广东省广州市天河区")
    )
    subject_matter_region = forms.CharField(
        label=_("标的物所在地区（如有）"),
        max_length=100,
        required=False,
        help_text=_("例如抵押房产所在的区县；没有可不填。"),
    )
    through_agent = forms.BooleanField(label=_("我委托代理人办理本次申请"), required=False)


class CourtForm(forms.Form):
    court = forms.CharField(label=_("受理法院"))


class DocumentForm(forms.Form):
    document = forms.CharField(max_length=60, widget=forms.HiddenInput)


class SignForm(DocumentForm):
    confirmed = forms.BooleanField(label=_("我已阅读以上文件并确认其内容"), required=False)
    password = forms.CharField(
        label=_("登录密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    otp = forms.CharField(
        label=_("短信验证码"),
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class UploadForm(forms.Form):
    code = forms.CharField(max_length=60, widget=forms.HiddenInput)
    file = forms.FileField(label=_("文件（PDF、JPEG 或 PNG）"))
