"""The case manager's pick from the pool: one mediator of the centre who may be assigned."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mediation.models import Organisation
from mediators import roster
from mediators.models import MediatorProfile


class ProfileChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        profile: MediatorProfile = obj
        return f"{profile.display_name}（{profile.region}）" if profile.region else profile.display_name


class AssignFromPoolForm(forms.Form):
    mediator = ProfileChoiceField(
        label=_("调解员"),
        queryset=MediatorProfile.objects.none(),
        error_messages={"invalid_choice": _("该调解员不在本中心可指定的名册中。")},
    )

    def __init__(self, *args: Any, centre: Organisation, on: datetime.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the centre's own assignable mediators (active, valid certificate); anyone else
        # posted is a field error. Conflicts of interest are the services' check (CaseError).
        field: ProfileChoiceField = self.fields["mediator"]  # type: ignore[assignment]
        field.queryset = (
            roster.assignable_profiles(centre, on or timezone.localdate())
            .select_related("user")
            .order_by("display_name", "pk")
        )
