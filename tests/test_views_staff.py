import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediation import ledger, services
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    IntakeChannel,
    NotAcceptedReason,
    Role,
    TerminationReason,
    User,
)
from mediation.views import staff
from mediation.views.staff import case_actions_context
from tests import factories

OUTSIDERS = ["other_case_manager", "bank_agent", "consumer", "court_clerk", "regulator", "mediator"]


def login(client, user):
    client.force_login(user)
    return client


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def choosing_case(transferred_case, consumer, bank_agent):
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="not_resolved", text="维持原处理意见。")
    services.request_mediation(transferred_case, consumer=consumer)
    services.record_institution_consent(transferred_case, agent=bank_agent, consent=True)
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.CHOOSING_MEDIATOR
    return transferred_case


# --- case list -------------------------------------------------------------------------------


def test_case_list_shows_the_centres_cases_newest_first_with_their_rows(
    client, case_manager, make_case, other_consumer, insurer, other_centre
):
    older = make_case()
    newer = make_case(
        consumer=other_consumer, institution=insurer, product_category="insurance_claim", issue_type="claim_refused"
    )
    elsewhere = make_case(centre=other_centre)
    response = login(client, case_manager).get(reverse("staff:case_list"))
    assert response.status_code == 200
    numbers = [row.case.number for row in response.context["rows"]]
    assert numbers == [newer.number, older.number]
    assert elsewhere.number not in response.content.decode()
    body = response.content.decode()
    assert "李四" in body and "平安健康保险" in body and "保险理赔" in body
    assert reverse("case_detail", kwargs={"pk": newer.pk}) in body


def test_case_list_shows_next_deadline_with_days_left_and_provisional_badge(client, case_manager, transferred_case):
    deadline = transferred_case.deadlines.get(kind=ClockKind.INSTITUTION_ANSWER)
    Deadline.objects.filter(pk=deadline.pk).update(
        due_date=timezone.localdate() + datetime.timedelta(days=4), provisional=True
    )
    response = login(client, case_manager).get(reverse("staff:case_list"))
    row = response.context["rows"][0]
    assert row.next_deadline.pk == deadline.pk
    assert row.days_left == 4
    body = response.content.decode()
    assert "剩余 4 日" in body
    assert "暂定" in body


def test_case_list_marks_overdue_deadlines_and_repeat_complaints(client, case_manager, transferred_case, make_case):
    Deadline.objects.filter(case=transferred_case).update(due_date=timezone.localdate() - datetime.timedelta(days=3))
    repeat = make_case()
    assert repeat.is_repeat
    body = login(client, case_manager).get(reverse("staff:case_list")).content.decode()
    assert "已超期 3 日" in body
    assert "重复投诉" in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": CaseState.TRANSFERRED}, {"transferred"}),
        ({"product_category": "insurance_claim"}, {"insurer"}),
        ({"overdue": "on"}, {"transferred"}),
        ({"flagged": "on"}, {"repeat"}),
    ],
)
def test_case_list_filters(
    client, case_manager, make_case, transferred_case, insurer, other_consumer, params, expected
):
    cases = {"transferred": transferred_case}
    cases["insurer"] = make_case(
        consumer=other_consumer, institution=insurer, product_category="insurance_claim", issue_type="claim_refused"
    )
    cases["repeat"] = make_case()
    assert cases["repeat"].is_repeat and not cases["insurer"].is_repeat
    Deadline.objects.filter(case=transferred_case).update(due_date=timezone.localdate() - datetime.timedelta(days=1))
    response = login(client, case_manager).get(reverse("staff:case_list"), params)
    shown = {row.case.pk for row in response.context["rows"]}
    assert shown == {cases[name].pk for name in expected}


def test_case_list_institution_filter_includes_branches_and_number_search(
    client, case_manager, make_case, bank, bank_branch, other_bank, other_consumer
):
    at_head_office = make_case()
    at_branch = make_case(consumer=other_consumer, institution=bank_branch)
    at_other_bank = make_case(institution=other_bank)
    login(client, case_manager)
    response = client.get(reverse("staff:case_list"), {"institution": bank.pk})
    assert {row.case.pk for row in response.context["rows"]} == {at_head_office.pk, at_branch.pk}
    response = client.get(reverse("staff:case_list"), {"institution": bank_branch.pk})
    assert {row.case.pk for row in response.context["rows"]} == {at_branch.pk}
    response = client.get(reverse("staff:case_list"), {"q": at_other_bank.number[-4:]})
    assert at_other_bank.pk in {row.case.pk for row in response.context["rows"]}
    response = client.get(reverse("staff:case_list"), {"q": at_other_bank.number})
    assert [row.case.pk for row in response.context["rows"]] == [at_other_bank.pk]


def test_case_list_paginates_and_keeps_filters_in_page_links(client, case_manager, make_case, monkeypatch):
    monkeypatch.setattr(staff, "CASES_PER_PAGE", 2)
    cases = [make_case() for _ in range(3)]
    login(client, case_manager)
    first = client.get(reverse("staff:case_list"), {"state": CaseState.SUBMITTED})
    assert [row.case.pk for row in first.context["rows"]] == [cases[2].pk, cases[1].pk]
    assert "state=submitted&amp;page=2" in first.content.decode()
    second = client.get(reverse("staff:case_list"), {"state": CaseState.SUBMITTED, "page": 2})
    assert [row.case.pk for row in second.context["rows"]] == [cases[0].pk]


def _make_transferred_cases(count, centre, bank, case_manager):
    for serial in range(count):
        person = factories.user(f"caller{serial}-{count}", Role.CONSUMER, real_name=f"来电人{serial}")
        case = factories.complaint(person, bank, centre)
        services.accept_case(case, actor=case_manager)
        services.transfer_to_institution(case, actor=case_manager)


def _count_list_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("staff:case_list"))
    assert response.status_code == 200
    return len(response.context["rows"]), len(queries)


def test_case_list_query_count_does_not_grow_with_rows(client, case_manager, centre, bank, bank_agent):
    login(client, case_manager)
    _make_transferred_cases(5, centre, bank, case_manager)
    rows_few, queries_few = _count_list_queries(client)
    _make_transferred_cases(25, centre, bank, case_manager)
    rows_many, queries_many = _count_list_queries(client)
    assert (rows_few, rows_many) == (5, 30)
    assert queries_many == queries_few


@pytest.mark.parametrize("persona", ["bank_agent", "consumer", "court_clerk", "regulator", "mediator"])
def test_case_list_is_refused_to_everyone_but_case_managers(client, request, persona, submitted_case):
    response = login(client, request.getfixturevalue(persona)).get(reverse("staff:case_list"))
    assert response.status_code == 404


def test_other_centres_case_manager_sees_none_of_our_cases(client, other_case_manager, submitted_case):
    response = login(client, other_case_manager).get(reverse("staff:case_list"))
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert submitted_case.number not in response.content.decode()


def test_case_list_requires_login(client):
    response = client.get(reverse("staff:case_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- intake ----------------------------------------------------------------------------------


def intake_data(bank, **overrides):
    data = {
        "channel": IntakeChannel.HOTLINE,
        "id_number": "",
        "phone": "",
        "real_name": "",
        "email": "",
        "institution": bank.pk,
        "product_category": "credit_card",
        "issue_type": "credit_card.unauthorised_transaction",
        "amount_in_dispute": "5600.00",
        "description": "来电反映信用卡被盗刷5600元。",
        "requested_outcome": "调减盗刷款项",
        "consent_online_mediation": "on",
        "service_address": "caller@example.com",
    }
    data.update(overrides)
    return data


def test_intake_creates_the_consumer_and_the_case_on_their_behalf(client, case_manager, bank):
    number = factories.resident_id(777, birth="19620305")
    data = intake_data(bank, id_number=number, phone="13912345678", real_name="陈阿婆", email="chen@example.com")
    response = login(client, case_manager).post(reverse("staff:intake"), data)
    case = Case.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("case_detail", kwargs={"pk": case.pk})
    person = User.objects.get(real_name="陈阿婆")
    assert person.role == Role.CONSUMER
    assert not person.has_usable_password()
    assert person.reveal_id_number() == number
    assert str(person.phone) == "+8613912345678"
    assert case.participants.get(capacity=CaseParticipant.Capacity.CONSUMER).user == person
    assert case.entered_by == case_manager
    assert case.intake_channel == IntakeChannel.HOTLINE
    assert case.issue_type == "unauthorised_transaction"
    assert case.amount_in_dispute == Decimal("5600.00")
    assert case.consent_online_mediation
    assert case_manager.has_perm("mediation.manage_case", case)
    assert ledger.verify().ok


def test_intake_finds_an_existing_consumer_by_id_number(client, case_manager, consumer, bank):
    data = intake_data(bank, channel=IntakeChannel.VISIT, id_number=consumer.reveal_id_number())
    login(client, case_manager).post(reverse("staff:intake"), data)
    case = Case.objects.get()
    assert case.participants.get(capacity=CaseParticipant.Capacity.CONSUMER).user == consumer
    assert User.objects.filter(role=Role.CONSUMER).count() == 1


def test_intake_finds_an_existing_consumer_by_phone(client, case_manager, consumer, bank):
    data = intake_data(bank, channel=IntakeChannel.LETTER, phone=str(consumer.phone))
    response = login(client, case_manager).post(reverse("staff:intake"), data)
    assert response.status_code == 302
    assert Case.objects.get().participants.get(capacity=CaseParticipant.Capacity.CONSUMER).user == consumer


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": "110105198001010000", "phone": "13912345678", "real_name": "钱七"}, "id_number"),
        ({"id_number": "", "phone": "13912345678", "real_name": "钱七"}, "id_number"),
        ({"id_number": factories.resident_id(888), "phone": "13912345678", "real_name": ""}, "real_name"),
        ({"id_number": factories.resident_id(888), "phone": "", "real_name": "钱七"}, "phone"),
        (
            {
                "id_number": factories.resident_id(888),
                "phone": "13912345678",
                "real_name": "钱七",
                "issue_type": "mortgage.early_repayment",
            },
            "issue_type",
        ),
        (
            {
                "id_number": factories.resident_id(888),
                "phone": "13912345678",
                "real_name": "钱七",
                "amount_in_dispute": "-1",
            },
            "amount_in_dispute",
        ),
        (
            {
                "id_number": factories.resident_id(888),
                "phone": "13912345678",
                "real_name": "钱七",
                "channel": IntakeChannel.WEB,
            },
            "channel",
        ),
    ],
)
def test_intake_bad_input_shows_field_errors_and_creates_nothing(client, case_manager, bank, overrides, field):
    users_before = User.objects.count()
    response = login(client, case_manager).post(reverse("staff:intake"), intake_data(bank, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Case.objects.count() == 0
    assert User.objects.count() == users_before


def test_intake_without_any_identifier_is_refused(client, case_manager, bank):
    response = login(client, case_manager).post(reverse("staff:intake"), intake_data(bank))
    assert response.context["form"].non_field_errors()
    assert Case.objects.count() == 0


def test_intake_refusing_a_non_consumer_account(client, case_manager, bank_agent, bank):
    bank_agent.set_id_number(factories.resident_id(555))
    bank_agent.save()
    response = login(client, case_manager).post(
        reverse("staff:intake"), intake_data(bank, id_number=factories.resident_id(555))
    )
    assert "id_number" in response.context["form"].errors
    assert Case.objects.count() == 0


def test_intake_failure_in_the_service_keeps_no_new_account(client, case_manager, bank, monkeypatch):
    def refuse(**kwargs):
        assert User.objects.filter(real_name="钱七").exists()  # the account was created first…
        raise services.CaseError("受理单位必须是调解中心。")

    monkeypatch.setattr(services, "submit_complaint", refuse)
    data = intake_data(bank, id_number=factories.resident_id(888), phone="13912345678", real_name="钱七")
    response = login(client, case_manager).post(reverse("staff:intake"), data)
    assert response.status_code == 200
    assert "受理单位必须是调解中心。" in response.context["form"].non_field_errors()
    assert not User.objects.filter(real_name="钱七").exists()  # …and rolled back with the case
    assert Case.objects.count() == 0


def test_intake_page_renders_for_case_manager(client, case_manager, bank):
    response = login(client, case_manager).get(reverse("staff:intake"))
    assert response.status_code == 200
    assert "热线电话" in response.content.decode()
    assert "网上提交" not in response.content.decode()


@pytest.mark.parametrize("persona", ["bank_agent", "consumer", "court_clerk", "regulator", "mediator"])
def test_intake_is_refused_to_everyone_but_case_managers(client, request, persona, bank):
    login(client, request.getfixturevalue(persona))
    assert client.get(reverse("staff:intake")).status_code == 404
    data = intake_data(bank, id_number=factories.resident_id(888), phone="13912345678", real_name="钱七")
    assert client.post(reverse("staff:intake"), data).status_code == 404
    assert Case.objects.count() == 0


# --- case actions ----------------------------------------------------------------------------


def action_url(name, case):
    return reverse(f"staff:case_{name}", kwargs={"pk": case.pk})


def test_case_manager_accepts_a_submitted_case(client, case_manager, submitted_case):
    response = login(client, case_manager).post(action_url("accept", submitted_case))
    assert response.status_code == 302
    assert response.url == reverse("case_detail", kwargs={"pk": submitted_case.pk})
    submitted_case.refresh_from_db()
    assert submitted_case.state == CaseState.ACCEPTED
    assert submitted_case.transitions.last().actor == case_manager


def test_refused_transition_is_reported_and_changes_nothing(client, case_manager, transferred_case):
    response = login(client, case_manager).post(action_url("accept", transferred_case))
    assert response.status_code == 302
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.TRANSFERRED
    assert any("不能变更为" in m for m in messages_of(response))


def test_case_manager_declines_with_a_reason(client, case_manager, submitted_case):
    response = login(client, case_manager).post(
        action_url("decline", submitted_case), {"reason": NotAcceptedReason.IN_LITIGATION, "note": "已起诉"}
    )
    assert response.status_code == 302
    submitted_case.refresh_from_db()
    assert submitted_case.state == CaseState.NOT_ACCEPTED
    assert submitted_case.not_accepted_reason == NotAcceptedReason.IN_LITIGATION
    assert submitted_case.state_note == "已起诉"


@pytest.mark.parametrize("data", [{"reason": "bogus"}, {"reason": NotAcceptedReason.OTHER, "note": "  "}])
def test_decline_with_bad_reason_shows_field_errors(client, case_manager, submitted_case, data):
    response = login(client, case_manager).post(action_url("decline", submitted_case), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    submitted_case.refresh_from_db()
    assert submitted_case.state == CaseState.SUBMITTED


def test_case_manager_transfers_to_the_institution(client, case_manager, submitted_case, bank_agent):
    services.accept_case(submitted_case, actor=case_manager)
    login(client, case_manager).post(action_url("transfer", submitted_case))
    submitted_case.refresh_from_db()
    assert submitted_case.state == CaseState.TRANSFERRED
    assert submitted_case.deadlines.filter(kind=ClockKind.INSTITUTION_ANSWER, status="running").exists()
    assert bank_agent.has_perm("mediation.answer_case", submitted_case)


def test_case_manager_assigns_a_mediator_of_the_centre(client, case_manager, choosing_case, mediator):
    response = login(client, case_manager).post(action_url("assign_mediator", choosing_case), {"mediator": mediator.pk})
    assert response.status_code == 302
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.AWAITING_MEDIATOR
    assert choosing_case.participants.filter(user=mediator, capacity="lead_mediator").exists()
    assert choosing_case.deadlines.filter(kind=ClockKind.MEDIATOR_ACCEPTANCE, status="running").exists()


def test_assigning_a_mediator_of_another_centre_or_a_non_mediator_is_a_field_error(
    client, case_manager, choosing_case, other_centre, bank_agent
):
    foreign = factories.user("foreign_mediator", Role.MEDIATOR, other_centre)
    login(client, case_manager)
    for person in (foreign, bank_agent):
        response = client.post(action_url("assign_mediator", choosing_case), {"mediator": person.pk})
        assert response.status_code == 400
        assert "mediator" in response.context["form"].errors
    choosing_case.refresh_from_db()
    assert choosing_case.state == CaseState.CHOOSING_MEDIATOR


def test_case_manager_extends_the_mediation_term(client, case_manager, mediating_case):
    term = mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)
    login(client, case_manager).post(
        action_url("extend_term", mediating_case), {"days": 15, "reason": "双方书面同意延长"}
    )
    term.refresh_from_db()
    assert term.extension_days == 15
    assert term.due_date >= term.start_date + datetime.timedelta(days=45)


@pytest.mark.parametrize(
    "data", [{"days": 0, "reason": "同意"}, {"days": 91, "reason": "同意"}, {"days": 10, "reason": ""}]
)
def test_extend_term_bad_input_is_a_field_error(client, case_manager, mediating_case, data):
    term = mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)
    response = login(client, case_manager).post(action_url("extend_term", mediating_case), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    term.refresh_from_db()
    assert term.extension_days == 0


def test_case_manager_pauses_and_resumes_the_term_for_an_appraisal(client, case_manager, mediating_case):
    term = mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM)
    login(client, case_manager)
    client.post(action_url("pause_term", mediating_case), {"reason": "委托司法鉴定"})
    term.refresh_from_db()
    assert term.status == Deadline.Status.PAUSED
    assert term.pause_reason == "委托司法鉴定"
    response = client.post(action_url("resume_term", mediating_case))
    assert response.status_code == 302
    term.refresh_from_db()
    assert term.status == Deadline.Status.RUNNING


def test_pause_without_reason_is_a_field_error_and_resume_of_running_term_is_refused(
    client, case_manager, mediating_case
):
    login(client, case_manager)
    response = client.post(action_url("pause_term", mediating_case), {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    response = client.post(action_url("resume_term", mediating_case))
    assert any("未暂停" in m for m in messages_of(response))
    assert mediating_case.deadlines.get(kind=ClockKind.MEDIATION_TERM).status == Deadline.Status.RUNNING


def test_case_manager_terminates_mediation_with_a_legal_reason(client, case_manager, mediating_case):
    login(client, case_manager).post(
        action_url("terminate", mediating_case), {"reason": TerminationReason.UNREACHABLE, "note": "三次联系未果"}
    )
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.TERMINATED
    assert mediating_case.termination_reason == TerminationReason.UNREACHABLE
    assert not mediating_case.deadlines.filter(status__in=["running", "paused"]).exists()


@pytest.mark.parametrize("data", [{"reason": "bored"}, {"reason": TerminationReason.OTHER, "note": ""}])
def test_terminate_bad_reason_is_a_field_error(client, case_manager, mediating_case, data):
    response = login(client, case_manager).post(action_url("terminate", mediating_case), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.MEDIATING


def test_case_manager_closes_an_answered_case(client, case_manager, transferred_case, bank_agent):
    services.answer_complaint(transferred_case, agent=bank_agent, outcome="resolved", text="已退还。")
    login(client, case_manager)
    response = client.post(action_url("close", transferred_case), {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    client.post(action_url("close", transferred_case), {"reason": "投诉人电话确认已收到退款"})
    transferred_case.refresh_from_db()
    assert transferred_case.state == CaseState.CLOSED


ACTIONS = [
    ("accept", {}),
    ("decline", {"reason": NotAcceptedReason.OUT_OF_SCOPE}),
    ("transfer", {}),
    ("assign_mediator", {}),
    ("extend_term", {"days": 5, "reason": "同意"}),
    ("pause_term", {"reason": "鉴定"}),
    ("resume_term", {}),
    ("terminate", {"reason": TerminationReason.REFUSED}),
    ("close", {"reason": "结案"}),
]


@pytest.mark.parametrize(("action", "data"), ACTIONS)
@pytest.mark.parametrize("persona", OUTSIDERS)
def test_case_actions_are_404_for_anyone_but_the_centres_case_managers(
    client, request, mediating_case, persona, action, data
):
    entries_before = mediating_case.ledger_entries.count()
    response = login(client, request.getfixturevalue(persona)).post(action_url(action, mediating_case), data)
    assert response.status_code == 404
    mediating_case.refresh_from_db()
    assert mediating_case.state == CaseState.MEDIATING
    assert mediating_case.ledger_entries.count() == entries_before


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_case_actions_refuse_get(client, case_manager, submitted_case, action, data):
    response = login(client, case_manager).get(action_url(action, submitted_case))
    assert response.status_code == 405
    submitted_case.refresh_from_db()
    assert submitted_case.state == CaseState.SUBMITTED


# --- the actions panel -----------------------------------------------------------------------


def render_panel(case):
    return render_to_string("mediation/staff/_case_actions.html", {"case": case, **case_actions_context(case)})


def test_actions_panel_offers_what_the_state_allows(choosing_case, mediator, other_mediator):
    choosing = render_panel(choosing_case)
    assert action_url("assign_mediator", choosing_case) in choosing
    assert mediator.display_name in choosing and other_mediator.display_name in choosing
    assert action_url("accept", choosing_case) not in choosing
    assert action_url("terminate", choosing_case) in choosing


def test_actions_panel_for_submitted_and_mediating_cases(make_case, mediating_case):
    submitted = make_case()
    panel = render_panel(submitted)
    assert action_url("accept", submitted) in panel
    assert action_url("decline", submitted) in panel
    assert action_url("transfer", submitted) not in panel
    panel = render_panel(mediating_case)
    assert action_url("extend_term", mediating_case) in panel
    assert action_url("pause_term", mediating_case) in panel
    assert action_url("resume_term", mediating_case) not in panel
    assert action_url("close", mediating_case) not in panel
    ids = re.findall(r'\bid="([^"]+)"', panel)
    assert len(ids) == len(set(ids))  # the panel sits on the case page beside the parties' own forms
