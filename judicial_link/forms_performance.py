"""What the parties enter on the performance page: a report with evidence, a dispute, an enforcement request.

The forms only shape the input; whether it is allowed (who may act, the item's state, the dates,
the amount) is for ``judicial_link.performance`` and ``judicial_link.enforcement`` to decide, which
name the field on their errors.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ReportForm(forms.Form):
    paid_on = forms.DateField(
        label=_("履行日期"), widget=forms.DateInput(attrs={"type": "date"}), help_text=_("实际付款或办理完毕的日期。")
    )
    amount = forms.DecimalField(
        label=_("实际支付金额（元）"),
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_("非金钱义务（如征信更正）不填。"),
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(label=_("履行凭证"), help_text=_("转账回单、征信更正回执等，PDF 或图片。"))


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("异议理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：未收到款项、金额不符。"),
    )


class EnforcementForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("我已核对履行情况，确认对方未按调解协议履行，申请强制执行。"),
        error_messages={"required": _("请勾选确认后再生成申请材料。")},
    )
