"""Forms for drafting: the version form with its instalment, waiver and credit-correction rows.

The rows are Django formsets (prefixes ``instalments``, ``waivers``, ``credit_corrections``);
``static/js/instalments.js`` adds and removes rows and shows the running instalment total, but the
server decides: ``DraftForms.terms()`` assembles the terms and ``signing.terms.clean_terms``
validates them, its errors are put back next to the field or table they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext_lazy as _

from signing import terms as agreement_terms
from signing.models import AgreementVersion, DisputeTemplate

ROW_LIMIT = agreement_terms.MAX_ROWS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _amount_field(label: Any, *, required: bool = False) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "amount"}),
        error_messages={
            "invalid": _("请填写金额数字，例如 1200.00。"),
            "min_value": _("金额不能为负数。"),
            "max_decimal_places": _("金额最多保留两位小数（精确到分）。"),
            "max_digits": _("金额超出允许的范围。"),
            "max_whole_digits": _("金额超出允许的范围。"),
        },
    )


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, widget=DateInput(), error_messages={"invalid": _("请填写有效日期（年-月-日）。")}
    )


class StartForm(forms.Form):
    template = forms.ChoiceField(label=_("协议模板"), choices=DisputeTemplate.choices)


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("您的意见"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "意见会显示给本案各方当事人和调解员。调解中为达成协议作出的让步，不得在其后的诉讼中作为对其不利的证据。"
        ),
    )


class FinaliseForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    confirm = forms.BooleanField(
        label=_("我已核对本稿内容，确认定稿；定稿后内容不能再修改。"),
        error_messages={"required": _("请勾选确认后再定稿。")},
    )


class VersionForm(forms.Form):
    facts = forms.CharField(label=_("主要事实"), widget=forms.Textarea(attrs={"rows": 8}), max_length=10000, strip=True)
    dispute = forms.CharField(
        label=_("争议事项"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10000, strip=True
    )
    payer = forms.ChoiceField(
        label=_("支付方"),
        choices=[(key, label) for key, label in agreement_terms.PAYERS.items()],
        widget=forms.RadioSelect,
    )
    payment_amount = _amount_field(_("支付金额（元）"))
    payment_due = _date_field(_("一次性付款期限"))
    withdraw_complaint = forms.BooleanField(label=_("履行完毕后金融消费者撤回投诉"), required=False)
    confidentiality = forms.BooleanField(label=_("各方对调解过程及协议内容保密"), required=False)
    judicial_confirmation_consent = forms.BooleanField(
        label=_("双方同意在协议生效后三十日内共同申请司法确认"), required=False
    )
    performance = forms.CharField(
        label=_("履行方式"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("例如：转入哪个账户、如何通知对方、履行后出具什么证明。"),
    )
    other_terms = forms.CharField(
        label=_("其他条款"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("每行一条。"),
    )
    change_note = forms.CharField(
        label=_("修改说明"),
        required=False,
        max_length=300,
        help_text=_("简要说明本稿改了什么，便于各方查看。"),
    )


class _RowForm(forms.Form):
    """A table row: a blank row is ignored, a partly filled one must be completed."""

    required_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = [name for name in self.fields if name != "DELETE" and data.get(name) not in (None, "")]
        if not filled and not self.errors:
            data["_blank"] = True
            return data
        for name in self.required_fields:
            if data.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, _("请填写此项。"))
        return data

    @property
    def is_blank(self) -> bool:
        return bool(getattr(self, "cleaned_data", {}).get("_blank"))


class InstalmentForm(_RowForm):
    due = _date_field(_("付款日期"))
    amount = _amount_field(_("金额（元）"))
    required_fields = ("due", "amount")


class WaiverForm(_RowForm):
    kind = forms.ChoiceField(
        label=_("减免类型"),
        required=False,
        choices=[("", "—"), *((key, label) for key, label in agreement_terms.WAIVER_KINDS.items())],
    )
    amount = _amount_field(_("金额（元）"))
    description = forms.CharField(label=_("说明"), required=False, max_length=500)
    required_fields = ("kind", "amount")


class CreditCorrectionForm(_RowForm):
    description = forms.CharField(label=_("更正内容"), required=False, max_length=500)
    due = _date_field(_("完成期限"))
    required_fields = ("description", "due")


class RowFormSet(BaseFormSet):
    def rows(self) -> list[dict[str, Any]]:
        """The kept rows' values (call after ``is_valid``)."""
        kept = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("_blank"):
                continue
            kept.append({name: value for name, value in data.items() if name not in ("DELETE", "_blank")})
        return kept


def _formset(form: type[forms.Form]) -> type[RowFormSet]:
    formset = formset_factory(
        form,
        formset=RowFormSet,
        extra=0,
        can_delete=True,
        max_num=ROW_LIMIT,
        validate_max=True,
        absolute_max=ROW_LIMIT,
    )
    return cast(type[RowFormSet], formset)


InstalmentFormSet = _formset(InstalmentForm)
WaiverFormSet = _formset(WaiverForm)
CreditCorrectionFormSet = _formset(CreditCorrectionForm)

# Where an error of ``clean_terms`` is shown: the form field or the table of rows.
TABLE_KEYS = ("instalments", "waivers", "credit_corrections")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


class DraftForms:
    """The version form and its three row tables, validated and shown together."""

    def __init__(self, data: Mapping[str, Any] | None = None, *, version: AgreementVersion | None = None) -> None:
        initial: dict[str, Any] = {}
        rows: dict[str, list[dict[str, Any]]] = {key: [] for key in TABLE_KEYS}
        if version is not None:
            terms = {**agreement_terms.empty_terms(), **version.terms}
            initial = {
                "facts": version.facts,
                "dispute": version.dispute,
                "payer": terms["payer"],
                "payment_amount": terms["payment_amount"],
                "payment_due": terms["payment_due"],
                "withdraw_complaint": terms["withdraw_complaint"],
                "confidentiality": terms["confidentiality"],
                "judicial_confirmation_consent": terms["judicial_confirmation_consent"],
                "performance": terms["performance"],
                "other_terms": "\n".join(terms["other_terms"]),
            }
            rows = {key: list(terms[key]) for key in TABLE_KEYS}
        bound = data is not None
        self.cleaned_terms: dict[str, Any] = {}
        self.form = VersionForm(data if bound else None, initial=initial)
        # A fresh page offers one empty row more in each table, so it works without JavaScript.
        self.instalments = InstalmentFormSet(
            data if bound else None, prefix="instalments", initial=rows["instalments"] or None
        )
        self.waivers = WaiverFormSet(data if bound else None, prefix="waivers", initial=rows["waivers"] or None)
        self.credit_corrections = CreditCorrectionFormSet(
            data if bound else None, prefix="credit_corrections", initial=rows["credit_corrections"] or None
        )
        if not bound:
            for formset in self.formsets:
                formset.extra = 1

    @property
    def formsets(self) -> list[RowFormSet]:
        return [self.instalments, self.waivers, self.credit_corrections]

    @property
    def is_bound(self) -> bool:
        return self.form.is_bound

    @property
    def has_errors(self) -> bool:
        return bool(self.form.errors) or any(fs.total_error_count() for fs in self.formsets)

    def is_valid(self) -> bool:
        valid = self.form.is_valid()
        for formset in self.formsets:
            valid = formset.is_valid() and valid
        if not valid:
            return False
        try:
            self.cleaned_terms = agreement_terms.clean_terms(self.terms())
        except ValidationError as error:
            self.add_errors(error)
            return False
        return True

    def terms(self) -> dict[str, Any]:
        """The terms as typed, in the shape ``clean_terms`` reads (after ``is_valid`` of the parts)."""
        data = self.form.cleaned_data
        return {
            "payer": data["payer"],
            "payment_amount": _money(data.get("payment_amount")),
            "payment_due": _iso(data.get("payment_due")),
            "instalments": [
                {"due": _iso(row["due"]), "amount": _money(row["amount"])} for row in self.instalments.rows()
            ],
            "waivers": [
                {"kind": row["kind"], "amount": _money(row["amount"]), "description": row.get("description", "")}
                for row in self.waivers.rows()
            ],
            "credit_corrections": [
                {"description": row["description"], "due": _iso(row["due"])} for row in self.credit_corrections.rows()
            ],
            "withdraw_complaint": bool(data.get("withdraw_complaint")),
            "confidentiality": bool(data.get("confidentiality")),
            "judicial_confirmation_consent": bool(data.get("judicial_confirmation_consent")),
            "performance": data.get("performance", ""),
            "other_terms": (data.get("other_terms") or "").splitlines(),
        }

    def add_errors(self, error: ValidationError) -> None:
        """Put each message next to its field, or above its table of rows."""
        messages = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        for key, texts in messages.items():
            for text in texts:
                if key in TABLE_KEYS:
                    getattr(self, key).non_form_errors().append(text)
                elif key in self.form.fields:
                    self.form.add_error(key, text)
                else:
                    self.form.add_error(None, text)
