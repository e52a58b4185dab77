"""Forms for the centre staff pages: case list filters, intake on a caller's behalf, case actions."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from phonenumber_field.formfields import PhoneNumberField

from mediation.classification import ISSUE_TYPES, ProductCategory
from mediation.identity import id_number_digest, validate_resident_id
from mediation.models import (
    CaseState,
    IntakeChannel,
    NotAcceptedReason,
    Organisation,
    Role,
    TerminationReason,
    User,
)


def _with_blank(label: StrOrPromise, choices: Sequence[tuple[str, StrOrPromise]]) -> list[tuple[str, StrOrPromise]]:
    return [("", label), *choices]


class CaseFilterForm(forms.Form):
    """GET filters of the case manager's list; every field optional."""

    q = forms.CharField(label=_("案件编号"), required=False, max_length=32)
    state = forms.ChoiceField(label=_("状态"), required=False, choices=_with_blank(_("全部状态"), CaseState.choices))
    institution = forms.ModelChoiceField(
        label=_("被投诉机构（含下属分支机构）"),
        required=False,
        queryset=Organisation.objects.filter(kind=Organisation.Kind.INSTITUTION).order_by("name"),
        empty_label=_("全部机构"),
    )
    product_category = forms.ChoiceField(
        label=_("产品类别"), required=False, choices=_with_blank(_("全部类别"), ProductCategory.choices)
    )
    overdue = forms.BooleanField(label=_("仅显示已超期"), required=False)
    flagged = forms.BooleanField(label=_("仅显示重复投诉或提级处理"), required=False)


def _issue_type_choices() -> list[tuple[str, str | list[tuple[str, StrOrPromise]]]]:
    """Issue types grouped by category; the value carries its category so the pair can be checked.

    Called for every form, not once at import, so the group labels follow the reader's language.
    """
    return [
        ("", "---------"),
        *(
            (str(ProductCategory(category).label), [(f"{category}.{code}", label) for code, label in types])
            for category, types in ISSUE_TYPES.items()
        ),
    ]


class IntakeForm(forms.Form):
    """A complaint taken by phone, letter, visit or at a service station, on the consumer's behalf.

    The consumer is found by ID number or phone; if nobody matches, a consumer account is created
    from the real name, ID number and phone given here (在线调解规则 Art 8: identity and a valid phone).
    """

    channel = forms.ChoiceField(
        label=_("登记渠道"), choices=[c for c in IntakeChannel.choices if c[0] != IntakeChannel.WEB]
    )
    id_number = forms.CharField(
        label=_("身份证号码"),
        required=False,
        max_length=20,
        help_text=_("用于查找已有账户；新建账户时必填。"),
    )
    phone = PhoneNumberField(label=_("手机号码"), region="CN", required=False)
    real_name = forms.CharField(label=_("真实姓名"), required=False, max_length=50, help_text=_("新建账户时必填。"))
    email = forms.EmailField(label=_("电子邮箱"), required=False)

    institution = forms.ModelChoiceField(
        label=_("被投诉机构"),
        queryset=Organisation.objects.filter(kind=Organisation.Kind.INSTITUTION).order_by("name"),
    )
    product_category = forms.ChoiceField(label=_("产品类别"), choices=_with_blank("---------", ProductCategory.choices))
    issue_type = forms.ChoiceField(label=_("问题类型"), choices=_issue_type_choices)
    amount_in_dispute = forms.DecimalField(label=_("争议金额（元）"), min_value=0, max_digits=14, decimal_places=2)
    description = forms.CharField(label=_("事实与理由"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000)
    requested_outcome = forms.CharField(label=_("诉求"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    consent_online_mediation = forms.BooleanField(
        label=_("投诉人同意在线调解"),
        required=False,
        help_text=_("须经投诉人本人明确表示同意（在线调解规则第四条）。"),
    )
    service_address = forms.EmailField(
        label=_("电子送达地址"), help_text=_("投诉人确认的接收文书的电子邮箱（在线调解规则第八条）。")
    )

    def clean_id_number(self) -> str:
        value = self.cleaned_data.get("id_number", "").strip()
        return validate_resident_id(value) if value else ""

    def clean_issue_type(self) -> str:
        # The value is "category.code"; the category half is checked against the chosen category in clean().
        return str(self.cleaned_data.get("issue_type", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_classification(data)
        self._find_or_describe_consumer(data)
        return data

    def _check_classification(self, data: dict[str, Any]) -> None:
        category, qualified = data.get("product_category"), data.get("issue_type")
        if not category or not qualified:
            return
        issue_category, _sep, code = qualified.partition(".")
        if issue_category != category or code not in dict(ISSUE_TYPES.get(category, [])):
            self.add_error("issue_type", _("问题类型与所选产品类别不符。"))
        else:
            data["issue_type"] = code

    def _find_or_describe_consumer(self, data: dict[str, Any]) -> None:
        """Set ``data['consumer']`` to an existing account, or leave it None with the new account's data valid."""
        if "id_number" not in data or "phone" not in data:
            return  # already reported on the field
        id_number, phone = data["id_number"], data["phone"]
        data["consumer"] = None
        if not id_number and not phone:
            raise ValidationError(_("请填写投诉人的身份证号码或手机号码。"))
        if id_number:
            person = User.objects.filter(id_number_digest=id_number_digest(id_number)).first()
            if person is not None:
                if person.role != Role.CONSUMER:
                    self.add_error("id_number", _("该身份证号码对应的账户不是金融消费者账户。"))
                data["consumer"] = person
                return
        elif phone:
            matches = list(User.objects.filter(phone=phone, role=Role.CONSUMER)[:2])
            if len(matches) > 1:
                self.add_error("id_number", _("该手机号码对应多个账户，请填写身份证号码以确定投诉人。"))
                return
            if matches:
                data["consumer"] = matches[0]
                return
        # Nobody matches: a new account needs a name, a valid ID number and a phone (Art 8).
        if not data.get("real_name", "").strip():
            self.add_error("real_name", _("未找到已有账户，新建账户须填写真实姓名。"))
        if not id_number:
            self.add_error("id_number", _("未找到已有账户，新建账户须填写身份证号码。"))
        if not phone:
            self.add_error("phone", _("未找到已有账户，新建账户须填写手机号码。"))


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(label=_("不予受理理由"), choices=NotAcceptedReason.choices)
    note = forms.CharField(label=_("说明"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == NotAcceptedReason.OTHER and not data.get("note", "").strip():
            self.add_error("note", _("以“其他”理由不予受理时须说明具体情况。"))
        return data


class MediatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class AssignMediatorForm(forms.Form):
    mediator = MediatorChoiceField(label=_("调解员"), queryset=User.objects.none())

    def __init__(self, *args: Any, centre: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the centre's own active mediators; anyone else posted is a field error.
        cast(MediatorChoiceField, self.fields["mediator"]).queryset = User.objects.filter(
            role=Role.MEDIATOR, organisation=centre, is_active=True
        ).order_by("real_name", "username")


class ExtendTermForm(forms.Form):
    days = forms.IntegerField(label=_("延长天数"), min_value=1, max_value=90)
    reason = forms.CharField(label=_("各方同意延长的情况"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class PauseTermForm(forms.Form):
    reason = forms.CharField(
        label=_("暂停事由（如委托鉴定）"),
        max_length=200,
        help_text=_("鉴定期间不计入调解期限（在线调解规则第二十六条）。"),
    )


class TerminateForm(forms.Form):
    reason = forms.ChoiceField(label=_("终止理由"), choices=TerminationReason.choices)
    note = forms.CharField(
        label=_("调解不成的基本情况及原因"), widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == TerminationReason.OTHER and not data.get("note", "").strip():
            self.add_error("note", _("以“其他”理由终止调解时须说明具体情况。"))
        return data


class CloseForm(forms.Form):
    reason = forms.CharField(label=_("结案说明"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class StatisticsPeriodForm(forms.Form):
    """Registration date range of the cases counted; defaults to the last twelve months."""

    start = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or _one_year_before(end) + datetime.timedelta(days=1)
        if start > end:
            self.add_error("start", _("起始日期不能晚于截止日期。"))
        data["start"], data["end"] = start, end
        return data


def _one_year_before(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
