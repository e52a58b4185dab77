"""Forms of the parties' pages. They check input; the services check the rules of the lifecycle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import phonenumbers
from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from phonenumber_field.formfields import PhoneNumberField

from mediation.classification import ISSUE_TYPES, ProductCategory
from mediation.evidence_checks import UploadRejected, sniff_upload
from mediation.identity import id_number_digest, validate_resident_id
from mediation.models import InstitutionAnswer, Organisation, TerminationReason, User


class LoginForm(AuthenticationForm):
    """Consumers sign in with their mobile number (it is their user name); staff with their user name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("手机号码或用户名")
        self.fields["password"].label = _("密码")


class ConsumerRegistrationForm(forms.Form):
    real_name = forms.CharField(
        label=_("真实姓名"), max_length=50, help_text=_("请填写与身份证一致的姓名，调解协议将使用此姓名。")
    )
    id_number = forms.CharField(
        label=_("居民身份证号码"),
        max_length=20,
        help_text=_("18位，末位可能是X。号码加密保存，页面上只显示前3位和后4位。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    phone = PhoneNumberField(
        label=_("手机号码"),
        region="CN",
        help_text=_("用于登录和接收案件进度短信。"),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(label=_("电子邮箱"), help_text=_("调解文书将以电子方式送达此邮箱（电子送达地址）。"))
    password1 = forms.CharField(
        label=_("设置密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少8位，不要只用数字，也不要与姓名、手机号相似。"),
    )
    password2 = forms.CharField(
        label=_("再次输入密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_id_number(self) -> str:
        number = validate_resident_id(self.cleaned_data["id_number"])
        if User.objects.filter(id_number_digest=id_number_digest(number)).exists():
            raise ValidationError(_("该身份证号码已注册。如忘记密码，请联系调解中心。"), code="duplicate")
        return number

    def clean_phone(self) -> Any:
        phone = self.cleaned_data["phone"]
        if phonenumbers.number_type(phone) not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            raise ValidationError(_("请填写可以接收短信的手机号码。"), code="not_mobile")
        if User.objects.filter(username=self.login_name(phone)).exists() or User.objects.filter(phone=phone).exists():
            raise ValidationError(_("该手机号码已注册。"), code="duplicate")
        return phone

    @staticmethod
    def login_name(phone: Any) -> str:
        return str(phone.national_number)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2:
            if password1 != password2:
                self.add_error("password2", ValidationError(_("两次输入的密码不一致。"), code="mismatch"))
            else:
                candidate = User(
                    username=self.login_name(cleaned["phone"]) if cleaned.get("phone") else "",
                    real_name=cleaned.get("real_name", ""),
                    email=cleaned.get("email", ""),
                )
                try:
                    password_validation.validate_password(password1, candidate)
                except ValidationError as error:
                    self.add_error("password1", error)
        return cleaned


class OtpTokenForm(forms.Form):
    token = forms.CharField(
        label=_("动态验证码"),
        min_length=6,
        max_length=8,
        help_text=_("打开手机上的身份验证器应用，输入显示的6位数字。"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}),
    )

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].strip().replace(" ", "")
        if not token.isdigit():
            raise ValidationError(_("验证码只包含数字。"), code="digits")
        return token


class IssueTypeSelect(forms.Select):
    """Each option carries its product category so the page script can hide the unrelated ones."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        if value:
            option["attrs"]["data-category"] = str(value).split(".", 1)[0]
        return option


def _issue_type_choices() -> list[tuple[str, Any]]:
    grouped: list[tuple[str, Any]] = [("", _("请先选择产品类别，再选择问题类型"))]
    for category, types in ISSUE_TYPES.items():
        grouped.append((str(ProductCategory(category).label), [(f"{category}.{code}", label) for code, label in types]))
    return grouped


class ComplaintForm(forms.Form):
    """The complaint in four steps; field order follows the steps (see ``STEPS``)."""

    STEPS: tuple[tuple[StrOrPromise, tuple[str, ...]], ...] = (
        (_("被投诉机构与产品"), ("centre", "institution", "product_category", "issue_type")),
        (_("争议事实与金额"), ("amount_in_dispute", "description")),
        (_("诉求"), ("requested_outcome",)),
        (
            _("同意在线调解与电子送达地址确认"),
            ("service_address", "confirm_service_address", "consent_online_mediation"),
        ),
    )

    centre = forms.ModelChoiceField(
        label=_("受理的调解中心"),
        queryset=Organisation.objects.none(),
        help_text=_("选择您所在地区的调解中心。"),
    )
    institution = forms.ModelChoiceField(
        label=_("被投诉的金融机构"),
        queryset=Organisation.objects.none(),
        empty_label=_("请选择"),
        help_text=_("选择与您发生纠纷的银行、保险公司或支付机构；如是某个支行或分公司，请选择该支行。"),
    )
    product_category = forms.ChoiceField(
        label=_("涉及的产品或服务"),
        choices=[("", _("请选择")), *ProductCategory.choices],
        help_text=_("例如信用卡、贷款、理财、保险理赔。"),
    )
    issue_type = forms.ChoiceField(
        label=_("问题类型"),
        choices=_issue_type_choices,
        widget=IssueTypeSelect,
        help_text=_("选择最接近您遇到的问题的一项。"),
    )
    amount_in_dispute = forms.DecimalField(
        label=_("争议金额（元）"),
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        help_text=_("您认为机构应退还或赔偿的金额；不涉及金额请填0。"),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "min": "0"}),
    )
    description = forms.CharField(
        label=_("事情经过"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("用自己的话说明发生了什么、什么时间、和谁联系过、机构怎么答复的。"),
    )
    requested_outcome = forms.CharField(
        label=_("您的诉求"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("您希望机构怎么做，例如“退还手续费1200元并消除不良征信记录”。"),
    )
    service_address = forms.EmailField(
        label=_("电子送达地址（电子邮箱）"),
        help_text=_("受理通知、答复、调解文书将发送到这个邮箱，发送即视为送达，请确认能正常收信。"),
    )
    confirm_service_address = forms.BooleanField(
        label=_("我确认以上电子送达地址真实有效，同意以电子方式接收文书"),
        error_messages={"required": _("请确认电子送达地址。")},
    )
    consent_online_mediation = forms.BooleanField(
        label=_("我同意通过本平台在线处理投诉并在线调解"),
        help_text=_("在线调解与线下调解效力相同。请如实陈述，虚构事实、恶意串通进行虚假调解的，将依法承担法律责任。"),
        error_messages={"required": _("在本平台提交投诉须同意在线处理；如不同意，请到调解中心现场办理。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        centres = Organisation.objects.filter(kind=Organisation.Kind.CENTRE).order_by("name")
        self.single_centre: Organisation | None = centres.first() if centres.count() == 1 else None
        if self.single_centre is not None:
            del self.fields["centre"]
        else:
            cast(forms.ModelChoiceField, self.fields["centre"]).queryset = centres
        cast(forms.ModelChoiceField, self.fields["institution"]).queryset = (
            Organisation.objects.filter(kind=Organisation.Kind.INSTITUTION).select_related("parent").order_by("name")
        )

    def steps(self) -> list[tuple[int, str, list[forms.BoundField]]]:
        return [
            (number, str(title), [self[name] for name in names if name in self.fields])
            for number, (title, names) in enumerate(self.STEPS, start=1)
        ]

    def first_step_with_errors(self) -> int:
        for number, _title, fields in self.steps():
            if any(field.errors for field in fields):
                return number
        return 1

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        category, issue = cleaned.get("product_category"), cleaned.get("issue_type")
        if category and issue:
            issue_category, _dot, code = issue.partition(".")
            if issue_category != category or code not in dict(ISSUE_TYPES[category]):
                self.add_error(
                    "issue_type", ValidationError(_("问题类型与所选产品类别不符，请重新选择。"), code="mismatch")
                )
            else:
                cleaned["issue_code"] = code
        return cleaned

    def chosen_centre(self) -> Organisation:
        return self.single_centre or self.cleaned_data["centre"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files; each is checked by content before anything is stored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        checked = [super(MultipleFileField, self).clean(item, initial) for item in files]
        for upload in checked:
            try:
                sniff_upload(upload)
            except UploadRejected as exc:
                raise ValidationError(f"{upload.name}: {exc}", code="rejected") from None
        return checked


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label=_("选择文件"),
        help_text=_("可上传PDF、图片、Word、Excel、文本、录音或视频，单个文件不超过20 MB。"),
    )
    description = forms.CharField(
        label=_("材料说明"),
        max_length=300,
        required=False,
        help_text=_("例如“2024年3月信用卡账单”“与客服的通话录音”。"),
    )


class ConsentForm(forms.Form):
    """在线调解规则 Art 4: the consumer's express consent to online mediation."""

    consent = forms.BooleanField(
        label=_("我同意由调解中心组织在线调解，并已知悉虚假调解须承担法律责任"),
        error_messages={"required": _("申请调解须勾选同意在线调解。")},
    )


class InstitutionConsentForm(forms.Form):
    consent = forms.TypedChoiceField(
        label=_("是否同意在线调解"),
        choices=[("yes", _("同意在线调解")), ("no", _("不同意调解"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("不同意的理由"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("不同意调解时请说明理由，投诉人将看到此说明。"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("consent") is False and not cleaned.get("reason", "").strip():
            self.add_error("reason", ValidationError(_("不同意调解时须说明理由。"), code="required"))
        return cleaned


class DeclineAssignmentForm(forms.Form):
    reason = forms.CharField(
        label=_("拒绝理由"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("在线调解规则第十二条：拒绝接受委派应说明理由，例如存在利益冲突。"),
    )


class TerminateForm(forms.Form):
    reason = forms.ChoiceField(label=_("终止理由"), choices=[("", _("请选择")), *TerminationReason.choices])
    note = forms.CharField(
        label=_("具体情况"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("记录调解未能达成协议的基本事实和原因（在线调解规则第二十一条）。"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("reason") == TerminationReason.OTHER and not cleaned.get("note", "").strip():
            self.add_error("note", ValidationError(_("以“其他”理由终止调解时须说明具体情况。"), code="required"))
        return cleaned


class AnswerForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("处理结果"),
        choices=InstitutionAnswer.Outcome.choices,
        widget=forms.RadioSelect,
        help_text=_("选择“未解决”时，系统会告知投诉人可以申请调解。"),
    )
    text = forms.CharField(
        label=_("答复内容"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("说明核实情况、处理意见和依据。投诉人将看到全文。"),
    )
    attachments = MultipleFileField(
        label=_("附件"),
        help_text=_("可选。不得要求投诉人提供贵机构已掌握的材料。"),
    )


class ExtensionRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("延期理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("情况复杂需要延长答复期限的，说明原因；延期将告知投诉人。"),
    )
