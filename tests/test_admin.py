"""The admin: reference data editable, cases and the ledger read-only, holiday edits recompute clocks."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from mediation import clocks
from mediation.models import (
    CalendarYear,
    Case,
    ClockKind,
    LedgerEntry,
    Organisation,
    User,
)

D = datetime.date
CHANGELISTS = ["organisation", "user", "calendaryear", "case", "ledgerentry"]


@pytest.fixture
def admin_client_for(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


def calendar_year_post(year: int, days: list[tuple[str, bool, str]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "year": str(year),
        "source": fields.get("source", "国务院办公厅通知"),
        "days-TOTAL_FORMS": str(len(days)),
        "days-INITIAL_FORMS": "0",
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    for n, (date, is_workday, name) in enumerate(days):
        data[f"days-{n}-date"] = date
        data[f"days-{n}-name"] = name
        if is_workday:
            data[f"days-{n}-is_workday"] = "on"
    return data


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_render_for_the_administrator(admin_client_for: Client, submitted_case: Case, model: str) -> None:
    response = admin_client_for.get(reverse(f"admin:mediation_{model}_changelist"))
    assert response.status_code == 200


def test_non_staff_consumer_is_sent_to_the_admin_login(client: Client, consumer: User) -> None:
    client.force_login(consumer)
    for url in (reverse("admin:index"), reverse("admin:mediation_case_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_staff_without_model_permissions_cannot_list_cases(client: Client, case_manager: User) -> None:
    client.force_login(case_manager)
    assert client.get(reverse("admin:mediation_case_changelist")).status_code == 403


def test_cases_and_the_ledger_cannot_be_added_changed_or_deleted(
    admin_client_for: Client, submitted_case: Case
) -> None:
    entry = LedgerEntry.objects.filter(case=submitted_case).first()
    assert entry is not None
    assert admin_client_for.get(reverse("admin:mediation_case_add")).status_code == 403
    assert admin_client_for.get(reverse("admin:mediation_case_delete", args=[submitted_case.pk])).status_code == 403
    assert admin_client_for.get(reverse("admin:mediation_ledgerentry_add")).status_code == 403
    assert admin_client_for.get(reverse("admin:mediation_ledgerentry_delete", args=[entry.pk])).status_code == 403

    state = submitted_case.state
    admin_client_for.post(reverse("admin:mediation_case_change", args=[submitted_case.pk]), {"state": "closed"})
    submitted_case.refresh_from_db()
    assert submitted_case.state == state


def test_case_page_shows_no_mediation_content(admin_client_for: Client, submitted_case: Case) -> None:
    page = admin_client_for.get(reverse("admin:mediation_case_change", args=[submitted_case.pk])).content.decode()
    assert submitted_case.number in page
    assert submitted_case.description not in page


def test_user_page_shows_only_the_masked_id_number(admin_client_for: Client, consumer: User) -> None:
    page = admin_client_for.get(reverse("admin:mediation_user_change", args=[consumer.pk])).content.decode()
    full = consumer.reveal_id_number()
    assert consumer.id_number_masked in page
    assert full not in page
    assert consumer.id_number_encrypted not in page
    assert consumer.id_number_digest not in page


def test_saving_a_user_in_the_admin_moves_them_to_the_new_organisations_group(
    admin_client_for: Client, bank_agent: User, bank: Organisation, other_bank: Organisation
) -> None:
    data = {
        "username": bank_agent.username,
        "role": bank_agent.role,
        "organisation": str(other_bank.pk),
        "real_name": bank_agent.real_name,
        "phone": str(bank_agent.phone),
        "email": bank_agent.email,
        "is_active": "on",
    }
    response = admin_client_for.post(reverse("admin:mediation_user_change", args=[bank_agent.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(bank_agent.groups.values_list("name", flat=True)) == [f"org-{other_bank.pk}"]


def test_admin_refuses_a_role_in_the_wrong_kind_of_organisation(
    admin_client_for: Client, mediator: User, bank: Organisation
) -> None:
    data = {"username": mediator.username, "role": mediator.role, "organisation": str(bank.pk), "is_active": "on"}
    response = admin_client_for.post(reverse("admin:mediation_user_change", args=[mediator.pk]), data)

    assert response.status_code == 200
    assert "organisation" in response.context["adminform"].form.errors
    mediator.refresh_from_db()
    assert mediator.organisation != bank


def test_admin_refuses_an_organisation_loop(
    admin_client_for: Client, bank: Organisation, bank_branch: Organisation
) -> None:
    data = {
        "kind": bank.kind,
        "name": bank.name,
        "parent": str(bank_branch.pk),
        "institution_type": bank.institution_type,
    }
    response = admin_client_for.post(reverse("admin:mediation_organisation_change", args=[bank.pk]), data)

    assert response.status_code == 200
    bank.refresh_from_db()
    assert bank.parent is None


def test_saving_a_calendar_year_recomputes_a_provisional_deadline(
    admin_client_for: Client, admin_user: User, submitted_case: Case
) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 12, 10))
    assert (term.due_date, term.provisional) == (D(2027, 1, 11), True)  # Saturday 9 Jan guessed off

    response = admin_client_for.post(
        reverse("admin:mediation_calendaryear_add"),
        calendar_year_post(2027, [("2027-01-01", False, "元旦"), ("2027-01-09", True, "调休（测试）")]),
    )

    assert response.status_code == 302
    term.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 1, 9), False)
    year = CalendarYear.objects.get(year=2027)
    assert year.loaded_by == admin_user
    assert year.days.count() == 2
    assert "已按新的节假日安排重算 1 个未结期限。" in [str(m) for m in get_messages(response.wsgi_request)]
    assert LedgerEntry.objects.get(action="mediation.clock.recomputed").actor == admin_user


def test_deleting_a_calendar_year_makes_its_deadlines_provisional_again(
    admin_client_for: Client, submitted_case: Case
) -> None:
    clocks.load_calendar_year(2027, [clocks.CalendarEntry(D(2027, 1, 9), True, "调休")], source="测试")
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2026, 12, 10))
    assert (term.due_date, term.provisional) == (D(2027, 1, 9), False)
    year = CalendarYear.objects.get(year=2027)

    response = admin_client_for.post(reverse("admin:mediation_calendaryear_delete", args=[year.pk]), {"post": "yes"})

    assert response.status_code == 302
    term.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 1, 11), True)


def test_calendar_inline_refuses_weekday_workdays_and_other_years(admin_client_for: Client, db: None) -> None:
    response = admin_client_for.post(
        reverse("admin:mediation_calendaryear_add"),
        calendar_year_post(2027, [("2027-03-02", True, "周二调休"), ("2026-12-31", False, "元旦")]),
    )

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert "is_workday" in errors[0] and "date" in errors[1]
    assert not CalendarYear.objects.exists()


def test_adding_a_case_manager_in_the_admin_puts_them_in_the_centre_group(
    admin_client_for: Client, centre: Organisation
) -> None:
    data = {
        "username": "new_manager",
        "role": "case_manager",
        "organisation": str(centre.pk),
        "real_name": "蒋专员",
        "phone": "+8613912345678",
        "email": "new_manager@example.cn",
        "usable_password": "true",
        "password1": "a long enough passphrase 2026",
        "password2": "a long enough passphrase 2026",
    }
    response = admin_client_for.post(reverse("admin:mediation_user_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = User.objects.get(username="new_manager")
    assert (created.role, created.organisation) == ("case_manager", centre)
    assert list(created.groups.values_list("name", flat=True)) == [f"org-{centre.pk}"]
