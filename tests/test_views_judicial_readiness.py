"""The judicial-confirmation section of the case page and the readiness page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation.models import Case, ClockKind, Deadline, Organisation, User
from signing.models import Agreement
from tests import factories
from tests.signing_helpers import prepared_agreement, sign_as


@pytest.fixture
def effective_case(
    mediating_case: Case,
    mediator: User,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> Case:
    agreement = prepared_agreement(mediating_case, mediator)
    for person in (consumer, bank_agent, mediator, case_manager):
        sign_as(Agreement.objects.get(pk=agreement.pk), person, django_capture_on_commit_callbacks)
    mediating_case.refresh_from_db()
    return mediating_case


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_case_page_counts_down_the_window(effective_case: Case, consumer: User) -> None:
    page = client_for(consumer).get(reverse("case_detail", kwargs={"pk": effective_case.pk})).content.decode()
    window = effective_case.deadlines.get(kind=ClockKind.JUDICIAL_CONFIRMATION)
    assert "司法确认" in page and window.due_date.isoformat() in page
    assert reverse("judicial:readiness", kwargs={"case_pk": effective_case.pk}) in page


def test_a_closed_window_says_so_and_offers_no_application(effective_case: Case, consumer: User) -> None:
    Deadline.objects.filter(case=effective_case, kind=ClockKind.JUDICIAL_CONFIRMATION).update(
        due_date=datetime.date(2026, 1, 5), status=Deadline.Status.EXPIRED
    )
    page = client_for(consumer).get(reverse("case_detail", kwargs={"pk": effective_case.pk})).content.decode()
    assert "届满，不能再申请司法确认" in page
    assert reverse("judicial:readiness", kwargs={"case_pk": effective_case.pk}) not in page


def test_the_readiness_page_names_what_is_missing_and_the_courts(
    effective_case: Case, bank_agent: User, bank: Organisation
) -> None:
    court = factories.organisation(Organisation.Kind.COURT, "广州市天河区人民法院", region=bank.region)
    court.court_level = "basic"
    court.court_code = "J0106"
    court.save()
    response = client_for(bank_agent).get(reverse("judicial:readiness", kwargs={"case_pk": effective_case.pk}))
    assert response.status_code == 200
    problems = {p.code for p in response.context["result"].problems}
    assert "missing_document" in problems and "no_court" in problems
    assert "signature_invalid" not in problems and "agreement_not_effective" not in problems
    page = response.content.decode()
    assert "广州市天河区人民法院" in page and "第二百零五条" in page


@pytest.mark.parametrize("persona", ["outsider", "other_bank_agent", "court_clerk", "regulator"])
def test_people_not_on_the_case_get_404(effective_case: Case, persona: str, request: pytest.FixtureRequest) -> None:
    client = client_for(request.getfixturevalue(persona))
    url = reverse("judicial:readiness", kwargs={"case_pk": effective_case.pk})
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404


def test_anonymous_visitors_are_sent_to_login_and_post_is_refused(effective_case: Case, consumer: User) -> None:
    url = reverse("judicial:readiness", kwargs={"case_pk": effective_case.pk})
    assert Client().get(url).status_code == 302
    assert client_for(consumer).post(url).status_code == 405
