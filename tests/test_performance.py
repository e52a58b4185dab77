"""Due items from the signed agreement; reporting, confirming and disputing them; overdue alerts."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from judicial_link import performance
from judicial_link.models import DueItem
from judicial_link.performance import PerformanceError
from mediation import services as case_services
from mediation.models import Case, CaseState, ClockKind, Deadline, LedgerEntry, Notification, User
from signing.models import Agreement
from tests.performance_helpers import confirm_by_court, items_of, make_overdue, receipt_upload
from tests.signing_helpers import agreed_terms

State = DueItem.State


@pytest.fixture
def signed(ready_case: Case) -> Case:
    """The case with its agreement in effect (conftest's ready_case)."""
    return ready_case


def report(item: DueItem, actor: User, capture: Any, **changes: Any) -> DueItem:
    arguments: dict[str, Any] = {
        "actor": actor,
        "paid_on": timezone.localdate(),
        "amount": item.amount,
        "note": "已转账至申请人尾号1234的借记卡",
        "upload": receipt_upload(),
    }
    arguments.update(changes)
    with capture(execute=True):
        return performance.report_performed(item, **arguments)


def snapshot(item: DueItem) -> tuple[Any, ...]:
    item.refresh_from_db()
    return (item.state, item.report_count, item.evidence.name, item.paid_on, item.responded_at)


def test_the_signed_agreement_becomes_its_due_items_once(signed: Case) -> None:
    agreement = Agreement.objects.get(case=signed)
    items = items_of(signed)
    today = timezone.localdate()
    assert [(i.sequence, i.kind, i.due_date - today, i.amount) for i in items] == [
        (1, DueItem.Kind.INSTALMENT, datetime.timedelta(days=10), Decimal("1000.00")),
        (2, DueItem.Kind.NON_MONETARY, datetime.timedelta(days=20), None),
        (3, DueItem.Kind.INSTALMENT, datetime.timedelta(days=40), Decimal("2000.00")),
    ]
    # The instalments add up to the agreed amount of the effective version.
    terms = agreement.final_version.terms  # type: ignore[union-attr]
    assert sum(i.amount for i in items if i.amount is not None) == Decimal(terms["payment_amount"])
    assert all(i.payer == DueItem.Side.INSTITUTION and i.payer_name == signed.institution.name for i in items)
    assert items[1].description.startswith("于 ") and "征信更正" in items[1].description
    assert performance.create_due_items(agreement) == items
    assert performance.ensure_due_items(signed) == items
    assert LedgerEntry.objects.filter(case=signed, action="judicial.performance.items_created").count() == 1


def test_a_lump_sum_is_one_item_and_a_consumer_payer_performs_it() -> None:
    due = timezone.localdate() + datetime.timedelta(days=15)
    terms = agreed_terms(payer="consumer", instalments=[], payment_due=due.isoformat(), credit_corrections=[])
    [only] = performance.obligations(terms)
    assert (only.kind, only.due_date, only.amount, only.payer) == (
        DueItem.Kind.LUMP_SUM,
        due,
        Decimal("3000.00"),
        DueItem.Side.CONSUMER,
    )
    assert performance.obligations(agreed_terms(payment_amount=None, instalments=[], credit_corrections=[])) == []


def test_the_institution_reports_and_the_consumer_confirms(
    signed: Case, consumer: User, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    item = items_of(signed)[0]
    reported = report(item, bank_agent, django_capture_on_commit_callbacks)
    assert reported.state == State.REPORTED_PAID and reported.report_count == 1
    assert reported.paid_amount == Decimal("1000.00") and reported.evidence_name == "转账回单.pdf"
    with reported.evidence.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == reported.evidence_sha256
    assert Notification.objects.filter(recipient=consumer, kind="judicial.performance.reported").exists()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = performance.confirm_performed(item, actor=consumer)
    assert confirmed.state == State.CONFIRMED and confirmed.responded_by == consumer
    assert Notification.objects.filter(recipient=bank_agent, kind="judicial.performance.confirmed").exists()
    actions = list(
        LedgerEntry.objects.filter(case=signed, action__startswith="judicial.performance.").values_list(
            "action", flat=True
        )
    )
    assert actions[-2:] == ["judicial.performance.reported", "judicial.performance.confirmed"]
    # The 30-day window for judicial confirmation is still open: the case stays where it is.
    signed.refresh_from_db()
    assert signed.state == CaseState.AGREEMENT_EFFECTIVE


def test_the_wrong_side_is_refused_and_nothing_changes(
    signed: Case, consumer: User, bank_agent: User, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    item = items_of(signed)[0]
    before = snapshot(item)
    for actor in (consumer, mediator):
        with pytest.raises(PerformanceError) as refused:
            report(item, actor, django_capture_on_commit_callbacks)
        assert refused.value.code == "not_payer" and refused.value.forbidden
    assert snapshot(item) == before
    report(item, bank_agent, django_capture_on_commit_callbacks)
    before = snapshot(item)
    for actor in (bank_agent, mediator):
        with pytest.raises(PerformanceError) as refused:
            performance.confirm_performed(item, actor=actor)
        assert refused.value.code == "not_payee" and refused.value.forbidden
        with pytest.raises(PerformanceError):
            performance.dispute_performed(item, actor=actor, reason="未收到")
    assert snapshot(item) == before
    with pytest.raises(PerformanceError) as twice:
        report(item, bank_agent, django_capture_on_commit_callbacks)
    assert twice.value.code == "state"


def test_bad_input_names_the_field_and_stores_nothing(
    signed: Case, bank_agent: User, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    money, correction, _last = items_of(signed)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    cases: list[tuple[DueItem, dict[str, Any], str]] = [
        (money, {"paid_on": tomorrow}, "paid_on"),
        (money, {"paid_on": timezone.localdate() - datetime.timedelta(days=1)}, "paid_on"),
        (money, {"amount": None}, "amount"),
        (money, {"amount": Decimal("0")}, "amount"),
        (money, {"amount": Decimal("10.005")}, "amount"),
        (correction, {"amount": Decimal("1.00")}, "amount"),
        (money, {"upload": SimpleUploadedFile("回单.pdf", b"MZ\x90\x00" * 100)}, "evidence"),
        (money, {"note": "长" * 1001}, "note"),
    ]
    for item, changes, field in cases:
        before = snapshot(item)
        with pytest.raises(PerformanceError) as refused:
            report(item, bank_agent, django_capture_on_commit_callbacks, **changes)
        assert refused.value.field == field, (changes, refused.value.code)
        assert snapshot(item) == before
    stored = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / "performance"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
    # A non-monetary obligation is reported without an amount.
    assert report(correction, bank_agent, django_capture_on_commit_callbacks, amount=None).state == State.REPORTED_PAID


def test_a_disputed_item_is_reported_again_then_confirmed(
    signed: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    mediator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    item = items_of(signed)[0]
    report(item, bank_agent, django_capture_on_commit_callbacks, amount=Decimal("900.00"))
    with pytest.raises(PerformanceError) as empty:
        performance.dispute_performed(item, actor=consumer, reason="  ")
    assert empty.value.field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        disputed = performance.dispute_performed(item, actor=consumer, reason="只收到900元，少100元")
    assert disputed.state == State.DISPUTED and disputed.dispute_reason == "只收到900元，少100元"
    for person in (bank_agent, case_manager, mediator):
        assert Notification.objects.filter(recipient=person, kind="judicial.performance.disputed").exists()
    first_evidence = disputed.evidence.name
    again = report(item, bank_agent, django_capture_on_commit_callbacks, upload=receipt_upload("补付回单.pdf"))
    assert again.state == State.REPORTED_PAID and again.report_count == 2
    assert again.dispute_reason == "" and again.responded_by is None and again.evidence_name == "补付回单.pdf"
    # The first receipt stays in storage: the ledger entry of the first report points at its hash.
    assert again.evidence.storage.exists(first_evidence)
    assert performance.confirm_performed(item, actor=consumer).state == State.CONFIRMED
    reports = LedgerEntry.objects.filter(case=signed, action="judicial.performance.reported").order_by("pk")
    assert [e.data["report"] for e in reports] == [1, 2]


def test_an_overdue_item_alerts_the_centre_and_both_sides_once(
    signed: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second, _third = items_of(signed)
    make_overdue(first, days=5)
    make_overdue(second, days=2)
    report(second, bank_agent, django_capture_on_commit_callbacks, amount=None)  # reported: not overdue
    assert performance.alert_overdue() == 1
    for person in (consumer, bank_agent, case_manager):
        alerts = Notification.objects.filter(recipient=person, kind="judicial.performance.overdue")
        assert alerts.count() == 1 and "已逾期 5 日" in alerts.get().message
    call_command("alert_overdue_items")
    assert performance.alert_overdue() == 0
    assert Notification.objects.filter(kind="judicial.performance.overdue").count() == 3
    first.refresh_from_db()
    assert first.overdue_alerted_at is not None
    assert list(performance.overdue_for_centre(signed.centre_id)) == [first]


def test_performance_after_the_ruling_moves_the_case_to_performing(
    signed: Case, consumer: User, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    confirm_by_court(signed, consumer, django_capture_on_commit_callbacks)
    signed.refresh_from_db()
    assert signed.state == CaseState.CONFIRMED
    report(items_of(signed)[0], bank_agent, django_capture_on_commit_callbacks)
    signed.refresh_from_db()
    assert signed.state == CaseState.PERFORMING


def test_performance_starts_once_the_confirmation_window_has_closed_and_ends_with_the_case(
    signed: Case, consumer: User, bank_agent: User, case_manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Deadline.objects.filter(case=signed, kind=ClockKind.JUDICIAL_CONFIRMATION).update(due_date=yesterday)
    first, second, _third = items_of(signed)
    report(first, bank_agent, django_capture_on_commit_callbacks)
    signed.refresh_from_db()
    assert signed.state == CaseState.PERFORMING
    case_services.close_case(signed, actor=case_manager, reason="双方同意结案")
    before = snapshot(second)
    with pytest.raises(PerformanceError) as closed:
        report(second, bank_agent, django_capture_on_commit_callbacks, amount=None)
    assert closed.value.code == "case_closed" and snapshot(second) == before
    with pytest.raises(PerformanceError):
        performance.confirm_performed(first, actor=consumer)
