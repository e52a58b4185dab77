"""The consumer's case list and the step-by-step complaint form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation.models import Case, CaseState, IntakeChannel, LedgerEntry, Organisation, User


def _complaint(institution: Organisation, **overrides: Any) -> dict[str, Any]:
    data = {
        "institution": institution.pk,
        "product_category": "credit_card",
        "issue_type": "credit_card.unauthorised_transaction",
        "amount_in_dispute": "3560.00",
        "description": "2025年3月我的信用卡在境外被盗刷三笔，我当时人在广州。",
        "requested_outcome": "退还被盗刷的3560元。",
        "service_address": "zhangsan@example.cn",
        "confirm_service_address": "on",
        "consent_online_mediation": "on",
    }
    data.update(overrides)
    return data


def test_my_cases_lists_only_the_consumers_own_cases(
    client: Client, consumer: User, other_consumer: User, make_case: Callable[..., Case]
) -> None:
    mine = make_case()
    theirs = make_case(consumer=other_consumer)
    client.force_login(consumer)
    page = client.get(reverse("my_cases")).content.decode()
    assert mine.number in page
    assert theirs.number not in page


def test_my_cases_is_refused_to_an_outsider_without_cases(client: Client, outsider: User, submitted_case: Case) -> None:
    client.force_login(outsider)
    response = client.get(reverse("my_cases"))
    assert response.status_code == 200
    assert submitted_case.number not in response.content.decode()
    assert "您还没有案件" in response.content.decode()


def test_my_cases_requires_login(client: Client, db: None) -> None:
    response = client.get(reverse("my_cases"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_complaint_form_shows_four_steps_with_help_and_tagged_issue_types(
    client: Client, consumer: User, centre: Organisation, bank: Organisation
) -> None:
    client.force_login(consumer)
    page = client.get(reverse("file_complaint")).content.decode()
    for step in ("被投诉机构与产品", "争议事实与金额", "诉求", "同意在线调解与电子送达地址确认"):
        assert step in page
    assert page.count('<fieldset class="step"') == 4
    assert 'data-category="insurance_claim"' in page
    assert "用自己的话说明发生了什么" in page
    # With a single centre there is nothing to choose.
    assert 'name="centre"' not in page
    assert "js/complaint_steps.js" in page


def test_consumer_files_a_complaint_on_the_web(
    client: Client, consumer: User, centre: Organisation, bank: Organisation
) -> None:
    client.force_login(consumer)
    response = client.post(reverse("file_complaint"), _complaint(bank), REMOTE_ADDR="10.1.2.3")
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", kwargs={"pk": case.pk})
    assert case.state == CaseState.SUBMITTED
    assert case.intake_channel == IntakeChannel.WEB
    assert case.centre == centre
    assert case.institution == bank
    assert (case.product_category, case.issue_type) == ("credit_card", "unauthorised_transaction")
    assert case.consent_online_mediation
    assert case.participants.get().user == consumer
    entry = LedgerEntry.objects.get(action="mediation.case.submitted", case=case)
    assert entry.ip == "10.1.2.3"
    assert case.number in client.get(reverse("my_cases")).content.decode()


def test_issue_type_of_another_category_is_refused_on_the_field(
    client: Client, consumer: User, centre: Organisation, bank: Organisation
) -> None:
    client.force_login(consumer)
    response = client.post(reverse("file_complaint"), _complaint(bank, issue_type="insurance_claim.claim_refused"))
    assert response.status_code == 200
    form = response.context["form"]
    assert "问题类型与所选产品类别不符" in form.errors["issue_type"][0]
    assert form.first_step_with_errors() == 1
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "step"),
    [
        ("amount_in_dispute", "-5", 2),
        ("description", "", 2),
        ("requested_outcome", "", 3),
        ("service_address", "not-an-address", 4),
        ("confirm_service_address", None, 4),
        ("consent_online_mediation", None, 4),
    ],
)
def test_bad_input_gives_a_field_error_on_its_step_and_files_nothing(
    client: Client, consumer: User, centre: Organisation, bank: Organisation, field: str, value: Any, step: int
) -> None:
    client.force_login(consumer)
    data = _complaint(bank)
    if value is None:
        del data[field]
    else:
        data[field] = value
    response = client.post(reverse("file_complaint"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert form.first_step_with_errors() == step
    assert f'data-start-step="{step}"' in response.content.decode()
    assert not Case.objects.exists()


def test_complaint_against_a_non_institution_is_refused(
    client: Client, consumer: User, centre: Organisation, court: Organisation
) -> None:
    client.force_login(consumer)
    response = client.post(reverse("file_complaint"), _complaint(court))
    assert "institution" in response.context["form"].errors
    assert not Case.objects.exists()


def test_with_several_centres_the_consumer_chooses_one(
    client: Client, consumer: User, centre: Organisation, other_centre: Organisation, bank: Organisation
) -> None:
    client.force_login(consumer)
    response = client.post(reverse("file_complaint"), _complaint(bank))
    assert "centre" in response.context["form"].errors
    assert not Case.objects.exists()

    client.post(reverse("file_complaint"), _complaint(bank, centre=other_centre.pk))
    assert Case.objects.get().centre == other_centre


@pytest.mark.parametrize("persona", ["bank_agent", "case_manager", "regulator"])
def test_only_consumers_reach_the_complaint_form(
    client: Client, request: Any, persona: str, bank: Organisation
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("file_complaint")).status_code == 404
    assert client.post(reverse("file_complaint"), _complaint(bank)).status_code == 404
    assert not Case.objects.exists()


def test_complaint_form_requires_login(client: Client, db: None) -> None:
    response = client.get(reverse("file_complaint"))
    assert response["Location"].startswith(reverse("login"))
