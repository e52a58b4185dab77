"""What the mediator writes in the termination record and enters to sign it.

The forms shape the input; whether it is allowed (the case terminated, the record not yet signed,
the password and code right) is for ``judicial_link.termination`` to decide, naming the field.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from judicial_link.termination import MAX_CHARS
from signing.forms_signing import _code_field, _password_field


def _text(label: StrOrPromise, help_text: StrOrPromise, *, required: bool, rows: int = 5) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        max_length=MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class TerminationRecordForm(forms.Form):
    """在线调解规则 Art 21's items, and the undisputed facts of Art 22."""

    basic_facts = _text(
        _("纠纷基本情况"),
        _("当事人、争议事项、金额和经过；已按投诉内容预填，请核对修改。"),
        required=True,
        rows=8,
    )
    undisputed_facts = _text(
        _("无争议事实"),
        _("各方当事人在调解中均无争议、并已确认的事实。不要写入一方为达成协议作出的让步（在线调解规则第十八条）。"),
        required=False,
    )
    failure_reasons = _text(_("调解不成的原因"), _("双方的主要分歧和调解终止的原因。"), required=True)
    cost_increasing_conduct = _text(
        _("导致其他当事人诉讼成本增加的行为"),
        _("例如无正当理由拒不到场、拖延、隐匿证据；没有则留空。"),
        required=False,
        rows=3,
    )
    notes_for_court = _text(
        _("需要向人民法院提示的其他情况"),
        _("例如当事人为老年人或残疾人、需要保全、关联案件；没有则留空。"),
        required=False,
        rows=3,
    )


class SignRecordForm(forms.Form):
    password = _password_field()
    code = _code_field()
    confirm = forms.BooleanField(
        label=_("我已核对上方记录的全部内容，确认无误后签署。"),
        error_messages={"required": _("请确认您已核对记录内容。")},
    )
    seen_hash = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
