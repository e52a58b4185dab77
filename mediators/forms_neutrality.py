"""Forms of the neutrality pages: the parties' choice, disclosure, responses, change requests."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mediation.models import User
from mediators.models import DisclosureResponse, MediatorProfile


class ProfileChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        if not obj.title:
            return str(obj.display_name)
        return gettext("%(name)s（%(title)s）") % {"name": obj.display_name, "title": obj.title}


class PartyChoiceForm(forms.Form):
    mediator = ProfileChoiceField(
        label=_("我方选择的调解员"),
        queryset=MediatorProfile.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"invalid_choice": _("请从本调解中心可选的调解员中选择。")},
    )

    def __init__(self, *args: Any, eligible: list[MediatorProfile], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(ProfileChoiceField, self.fields["mediator"]).queryset = MediatorProfile.objects.filter(
            pk__in=[p.pk for p in eligible]
        ).order_by("display_name", "id")


class DisclosureForm(forms.Form):
    NONE = "none"
    CONFLICT = "conflict"

    statement = forms.ChoiceField(
        label=_("利益冲突声明"),
        choices=[
            (NONE, _("本人与本案当事人及争议无利益冲突，接受委派")),
            (CONFLICT, _("本人存在可能影响公正调解的情况，予以披露")),
        ],
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("披露内容"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：与一方当事人或其近亲属的关系、与争议的利害关系、其他可能影响公正的关系。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("statement") == self.CONFLICT and not (data.get("text") or "").strip():
            self.add_error("text", _("披露利益冲突时须说明具体情况。"))
        return data

    @property
    def has_conflict(self) -> bool:
        return bool(self.cleaned_data["statement"] == self.CONFLICT)


class DisclosureResponseForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("我方意见"), choices=DisclosureResponse.Decision.choices, widget=forms.RadioSelect
    )


class MediatorUserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class ChangeRequestForm(forms.Form):
    mediator = MediatorUserChoiceField(
        label=_("申请更换的调解员"),
        queryset=User.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": _("请选择本案现任调解员。")},
    )
    reason = forms.CharField(label=_("理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}), strip=True)

    def __init__(self, *args: Any, mediators: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(MediatorUserChoiceField, self.fields["mediator"]).queryset = User.objects.filter(
            pk__in=[u.pk for u in mediators]
        )


class ChangeDecisionForm(forms.Form):
    GRANT = "grant"
    REFUSE = "refuse"

    decision = forms.ChoiceField(
        label=_("决定"),
        choices=[(GRANT, _("同意更换，该调解员立即退出本案")), (REFUSE, _("不予更换"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("决定说明"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), strip=True)

    @property
    def grant(self) -> bool:
        return bool(self.cleaned_data["decision"] == self.GRANT)
