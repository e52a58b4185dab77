"""The Art 250 limit and the enforcement package: refused before confirmation and without a breach;
built for the court that confirmed, verified by our code, ``openssl cms -verify`` and ``sha256sum -c``."""

from __future__ import annotations

import datetime
import json
import subprocess
import zipfile
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from judicial_link import enforcement, package, performance
from judicial_link.enforcement import add_years, enforcement_limit
from judicial_link.models import DueItem, EnforcementPackage
from judicial_link.performance import PerformanceError
from mediation.models import Case, LedgerEntry, Notification, User
from signing import verify
from tests.performance_helpers import confirm_by_court, items_of, make_overdue, receipt_upload
from tests.test_judicial_package import openssl_verify, sha256sum_check, unzip

Kind = DueItem.Kind


def item(kind: str, due: str) -> DueItem:
    return DueItem(kind=kind, due_date=datetime.date.fromisoformat(due), sequence=1)


def test_a_lump_sum_may_be_enforced_for_two_years_from_its_due_date() -> None:
    limit = enforcement_limit([item(Kind.LUMP_SUM, "2027-03-10")])
    assert limit is not None
    assert (limit.last_performance_day, limit.last_day, limit.instalments) == (
        datetime.date(2027, 3, 10),
        datetime.date(2029, 3, 10),
        False,
    )
    assert limit.days_left(datetime.date(2029, 3, 9)) == 1 and not limit.expired(datetime.date(2029, 3, 10))
    assert limit.expired(datetime.date(2029, 3, 11))


def test_instalments_count_from_the_last_one_and_29_february_ends_on_28_february() -> None:
    items = [
        item(Kind.INSTALMENT, "2027-09-30"),
        item(Kind.INSTALMENT, "2028-02-29"),
        item(Kind.NON_MONETARY, "2027-10-15"),
    ]
    limit = enforcement_limit(items)
    assert limit is not None and limit.instalments
    assert limit.last_performance_day == datetime.date(2028, 2, 29)
    assert limit.last_day == datetime.date(2030, 2, 28)
    assert add_years(datetime.date(2028, 2, 29), 4) == datetime.date(2032, 2, 29)
    assert enforcement_limit([]) is None
    # A credit correction due after the last instalment ends the performance period instead.
    later = enforcement_limit([item(Kind.INSTALMENT, "2027-09-30"), item(Kind.NON_MONETARY, "2027-12-01")])
    assert later is not None and not later.instalments and later.last_day == datetime.date(2029, 12, 1)


@pytest.fixture
def signed(ready_case: Case) -> Case:
    """The case with its agreement in effect (conftest's ready_case)."""
    return ready_case


def test_enforcement_is_refused_before_the_court_confirms(signed: Case, consumer: User) -> None:
    make_overdue(items_of(signed)[0])
    with pytest.raises(PerformanceError) as refused:
        enforcement.build_enforcement_package(signed, actor=consumer)
    assert refused.value.code == "not_confirmed" and "尚未经人民法院裁定确认有效" in refused.value.message
    assert not EnforcementPackage.objects.exists()


def test_enforcement_is_refused_without_a_breach_and_to_others_than_the_creditor(
    signed: Case, consumer: User, bank_agent: User, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    confirm_by_court(signed, consumer, django_capture_on_commit_callbacks)
    with pytest.raises(PerformanceError) as refused:
        enforcement.build_enforcement_package(signed, actor=consumer)
    assert refused.value.code == "no_breach" and "没有逾期未履行" in refused.value.message
    make_overdue(items_of(signed)[0])
    # The bank owes every item: it is no creditor here; the mediator is no party at all.
    with pytest.raises(PerformanceError) as debtor:
        enforcement.build_enforcement_package(signed, actor=bank_agent)
    assert debtor.value.code == "no_breach"
    with pytest.raises(PerformanceError) as not_party:
        enforcement.build_enforcement_package(signed, actor=mediator)
    assert not_party.value.code == "not_party" and not_party.value.forbidden
    assert not EnforcementPackage.objects.exists()


def test_the_enforcement_package_goes_to_the_confirming_court_and_verifies(
    signed: Case,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
    tmp_path: Path,
) -> None:
    application = confirm_by_court(signed, consumer, django_capture_on_commit_callbacks)
    first, second, third = items_of(signed)
    with django_capture_on_commit_callbacks(execute=True):
        performance.report_performed(
            first,
            actor=bank_agent,
            paid_on=timezone.localdate(),
            amount=Decimal("600.00"),
            note="",
            upload=receipt_upload(),
        )
        performance.dispute_performed(first, actor=consumer, reason="只收到600元")
    make_overdue(third, days=10)
    with django_capture_on_commit_callbacks(execute=True):
        built = enforcement.build_enforcement_package(signed, actor=consumer)
    assert built.court == application.court and built.application == application
    limit = enforcement_limit(items_of(signed))
    assert limit is not None and built.limit_date == limit.last_day
    with built.package.open("rb") as handle:
        zip_bytes = handle.read()
    assert len(zip_bytes) == built.package_size

    report = package.verify_package(zip_bytes)
    assert report.ok, [p.message for p in report.problems]
    assert report.purpose == "enforcement"
    checked = {f.path: f for f in report.files}
    assert set(checked) == {
        "ruling/ruling.pdf",
        "agreement/agreement-signed.pdf",
        "performance/due-items.json",
        "performance/evidence/001.pdf",
        "ledger/ledger-excerpt.json",
        "parties.json",
        "application/enforcement-application.pdf",
    }
    # The ruling's and the agreement's own signatures are verified file by file.
    assert checked["ruling/ruling.pdf"].pdf is not None and checked["ruling/ruling.pdf"].pdf.ok
    assert checked["agreement/agreement-signed.pdf"].pdf is not None

    with zipfile.ZipFile(BytesIO(zip_bytes)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        statement = json.loads(archive.read("performance/due-items.json"))
        form = archive.read("application/enforcement-application.pdf")
        ruling = archive.read("ruling/ruling.pdf")
        names = archive.namelist()
    assert manifest["court"]["name"] == application.court.name and manifest["purpose"] == "enforcement"
    assert [(row["sequence"], row["state"], row["overdue"]) for row in statement["items"]] == [
        (1, "disputed", False),
        (2, "due", False),
        (3, "due", True),
    ]
    assert statement["items"][0]["evidence"] == "performance/evidence/001.pdf"
    assert statement["items"][0]["dispute_reason"] == "只收到600元"
    with application.ruling.open("rb") as handle:
        assert handle.read() == ruling
    assert verify.verify_pdf(ruling).ok
    # Art 18: nothing from the rooms, private caucus or joint, is among the sources.
    assert not any("session" in name or "caucus" in name for name in names)

    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(form)
    text = "".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "强制执行申请书" in text and application.court.name in text and "（2026）粤0106民特88号" in text
    assert f"{limit.last_day:%Y年%m月%d日}" in text and "第二百五十条" in text
    assert "合计人民币3000.00元" in text  # the disputed 1000.00 and the overdue 2000.00

    directory = unzip(zip_bytes, tmp_path)
    signature = openssl_verify(directory)
    assert signature.returncode == 0, signature.stderr
    sums = sha256sum_check(directory)
    assert sums.returncode == 0, sums.stdout + sums.stderr

    entry = LedgerEntry.objects.get(case=signed, action="judicial.enforcement.package_built")
    assert entry.data["package_sha256"] == built.package_sha256 and entry.data["breached_items"] == [1, 3]
    for person in (consumer, bank_agent, case_manager):
        assert Notification.objects.filter(recipient=person, kind="judicial.enforcement.package_built").exists()


def test_a_changed_payment_receipt_stops_the_package(
    signed: Case, consumer: User, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    confirm_by_court(signed, consumer, django_capture_on_commit_callbacks)
    first = items_of(signed)[0]
    reported = performance.report_performed(
        first,
        actor=bank_agent,
        paid_on=timezone.localdate(),
        amount=Decimal("1000.00"),
        note="",
        upload=receipt_upload(),
    )
    performance.dispute_performed(first, actor=consumer, reason="未到账")
    with open(reported.evidence.path, "ab") as handle:
        handle.write(b"%changed")
    with pytest.raises(PerformanceError) as refused:
        enforcement.build_enforcement_package(signed, actor=consumer)
    assert refused.value.code == "evidence_changed"
    assert not EnforcementPackage.objects.exists()


def test_enforcement_files_come_only_from_its_whitelisted_sources() -> None:
    """在线调解规则 Art 18: like every purpose, enforcement reads a closed list; no room is on it."""
    assert [source.__name__ for source in package.SOURCES["enforcement"]] == [
        "ruling_document",
        "agreement_document",
        "due_items_document",
        "payment_evidence_documents",
        "ledger_document",
        "parties_document",
    ]
    assert all(source.__module__ == "judicial_link.package" for source in package.SOURCES["enforcement"])
    assert package.purpose_label("enforcement") == "申请强制执行" and "ruling" in package.SIGNED_DOC_TYPES
