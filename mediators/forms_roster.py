"""Forms for the pool pages: mediator profiles, qualifications, relationships, availability, roster filters."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from phonenumber_field.formfields import PhoneNumberField

from mediation.classification import ISSUE_TYPES, ProductCategory
from mediation.models import Organisation, Role, User
from mediators.models import DeclaredRelationship, Language, MediatorProfile, Qualification, Unavailability
from mediators.roster import PROFILE_FIELDS, NewAccount

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def expertise_choices() -> list[tuple[str, list[tuple[str, StrOrPromise]]]]:
    """Checkboxes grouped by category: the whole category first, then each of its issue types.

    A value is ``category`` or ``category.issue_type``, so only pairs from ISSUE_TYPES can be posted.
    Built per form so the labels follow the reader's language.
    """
    return [
        (
            str(ProductCategory(category).label),
            [(category, _("该类别全部问题")), *((f"{category}.{code}", label) for code, label in types)],
        )
        for category, types in ISSUE_TYPES.items()
    ]


def expertise_value(category: str, issue_type: str) -> str:
    return f"{category}.{issue_type}" if issue_type else category


def parse_expertise(value: str) -> tuple[str, str]:
    category, _sep, issue_type = value.partition(".")
    return category, issue_type


class ProfileForm(forms.ModelForm):
    """What staff edit on a profile; status changes are a separate, reasoned action."""

    languages = forms.MultipleChoiceField(
        label=_("调解语言"),
        choices=Language.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("可用于调解的语言和方言。"),
    )
    expertise = forms.MultipleChoiceField(
        label=_("专业领域"),
        choices=expertise_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("选择整个产品类别，或其中的具体问题类型。"),
    )

    class Meta:
        model = MediatorProfile
        fields = PROFILE_FIELDS
        widgets = {"biography": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Zero would keep an active mediator on the roster who can never be given a case.
        self.fields["max_caseload"].validators.append(MinValueValidator(1))
        self.fields["max_caseload"].widget.attrs["min"] = 1
        if self.instance.pk:
            self.initial.setdefault("languages", [entry.language for entry in self.instance.languages.all()])
            self.initial.setdefault(
                "expertise",
                [expertise_value(e.product_category, e.issue_type) for e in self.instance.expertise.all()],
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # 在线调解规则 Art 5: the roster says whether fees are charged, and on what basis.
        if data.get("charges_fees") and not (data.get("fee_note") or "").strip():
            self.add_error("fee_note", _("收费的调解员须填写收费说明。"))
        return data

    def profile_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in PROFILE_FIELDS}

    def expertise_pairs(self) -> list[tuple[str, str]]:
        return [parse_expertise(value) for value in self.cleaned_data["expertise"]]


class MediatorAccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name}（{obj.username}）"


class NewProfileForm(ProfileForm):
    """A new roster entry: link a mediator account of the centre, or open one (no password)."""

    existing_user = MediatorAccountChoiceField(
        label=_("已有调解员账户"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("（新建账户）"),
        help_text=_("本中心尚未建立档案的调解员账户；如无，请在下方填写新账户信息。"),
    )
    username = forms.CharField(
        label=_("登录用户名"), required=False, max_length=150, validators=[UnicodeUsernameValidator()]
    )
    real_name = forms.CharField(label=_("真实姓名"), required=False, max_length=50)
    phone = PhoneNumberField(label=_("手机号码"), region="CN", required=False)
    email = forms.EmailField(label=_("电子邮箱"), required=False)

    def __init__(self, *args: Any, centre: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(MediatorAccountChoiceField, self.fields["existing_user"]).queryset = User.objects.filter(
            role=Role.MEDIATOR, organisation=centre, is_active=True, mediator_profile__isnull=True
        ).order_by("real_name", "username")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("existing_user") is not None:
            if data.get("username"):
                self.add_error("username", _("已选择已有账户时不要填写新账户信息。"))
            return data
        if "username" not in data:
            return data  # the field already carries its error
        username = data["username"].strip()
        if not username:
            self.add_error("username", _("未选择已有账户时，须填写新账户的登录用户名。"))
        elif User.objects.filter(username=username).exists():
            self.add_error("username", _("该用户名已被使用。"))
        if not (data.get("real_name") or "").strip():
            self.add_error("real_name", _("新建账户须填写真实姓名。"))
        return data

    def new_account(self) -> NewAccount | None:
        if self.cleaned_data.get("existing_user") is not None:
            return None
        phone = self.cleaned_data.get("phone")
        return NewAccount(
            username=self.cleaned_data["username"].strip(),
            real_name=self.cleaned_data["real_name"].strip(),
            phone=str(phone) if phone else "",
            email=self.cleaned_data.get("email") or "",
        )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=MediatorProfile.Status.choices)
    reason = forms.CharField(label=_("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class QualificationForm(forms.ModelForm):
    class Meta:
        model = Qualification
        fields = ["name", "number", "issued_by", "expires_on"]
        widgets = {"expires_on": DATE_INPUT}
        help_texts = {"expires_on": _("长期有效的留空。")}


class RelationshipForm(forms.ModelForm):
    """A declared relationship (在线调解规则 Art 13); what must be filled depends on its kind."""

    class Meta:
        model = DeclaredRelationship
        fields = ["kind", "organisation", "person_name", "start_date", "end_date", "description"]
        widgets = {
            "start_date": DATE_INPUT,
            "end_date": DATE_INPUT,
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["organisation"]).queryset = Organisation.objects.filter(
            kind=Organisation.Kind.INSTITUTION
        ).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        start: datetime.date | None = data.get("start_date")
        end: datetime.date | None = data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("结束日期不能早于开始日期。"))
        needs_institution = (DeclaredRelationship.Kind.PAST_EMPLOYMENT, DeclaredRelationship.Kind.FINANCIAL_INTEREST)
        if kind in needs_institution and data.get("organisation") is None and "organisation" not in self.errors:
            self.add_error("organisation", _("请选择相关机构。"))
        if kind == DeclaredRelationship.Kind.PAST_EMPLOYMENT and start is None and "start_date" not in self.errors:
            # The automatic exclusion counts years since the employment ended; it needs the dates.
            self.add_error("start_date", _("任职经历须填写开始日期。"))
        if kind == DeclaredRelationship.Kind.CLOSE_RELATIVE and not (data.get("person_name") or "").strip():
            self.add_error("person_name", _("请填写近亲属姓名。"))
        if kind == DeclaredRelationship.Kind.OTHER and not (data.get("description") or "").strip():
            self.add_error("description", _("请说明该关系。"))
        return data

    def relationship_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class UnavailabilityForm(forms.ModelForm):
    class Meta:
        model = Unavailability
        fields = ["start_date", "end_date", "reason"]
        widgets = {"start_date": DATE_INPUT, "end_date": DATE_INPUT}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("结束日期不能早于开始日期。"))
        return data


class ProfileFilterForm(forms.Form):
    q = forms.CharField(label=_("姓名"), required=False, max_length=50)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *MediatorProfile.Status.choices]
    )


class RosterFilterForm(forms.Form):
    """The public roster's search box and filters; every field optional."""

    q = forms.CharField(label=_("搜索姓名或简介"), required=False, max_length=100)
    category = forms.ChoiceField(
        label=_("专业领域"), required=False, choices=[("", _("全部领域")), *ProductCategory.choices]
    )
    language = forms.ChoiceField(label=_("调解语言"), required=False, choices=[("", _("全部语言")), *Language.choices])
    region = forms.ChoiceField(label=_("所在地区"), required=False)

    def __init__(self, *args: Any, regions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["region"]).choices = [
            ("", _("全部地区")),
            *((region, region) for region in regions),
        ]
