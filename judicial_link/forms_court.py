"""What a court clerk enters on an application: the court's case number, a refusal, an extension, a ruling.

The forms only shape the input; whether it is allowed (the number's format and uniqueness, reasons
required for a rejection, one extension only) is for ``judicial_link.services`` to decide, which
names the field on its errors.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AcceptForm(forms.Form):
    court_case_number = forms.CharField(
        label=_("法院案号"),
        max_length=60,
        help_text=_("例如：（2026）粤0106民特123号"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class RefuseForm(forms.Form):
    reason = forms.CharField(label=_("不予受理的理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ExtendForm(forms.Form):
    approval_note = forms.CharField(
        label=_("批准情况"),
        max_length=1000,
        help_text=_("写明批准延长的院长或庭长、批准日期及理由。"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RuleForm(forms.Form):
    CONFIRM = "confirm"
    REJECT = "reject"

    decision = forms.ChoiceField(
        label=_("裁定结果"),
        choices=[
            (CONFIRM, _("裁定确认调解协议有效")),
            (REJECT, _("裁定驳回申请")),
        ],
        widget=forms.RadioSelect,
    )
    reasons = forms.CharField(
        label=_("裁定理由"),
        required=False,
        max_length=5000,
        help_text=_("驳回申请的，必须写明理由。"),
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    @property
    def confirmed(self) -> bool:
        return bool(self.cleaned_data["decision"] == self.CONFIRM)
