"""The joint application, and the court accepting, refusing and ruling on it."""

from __future__ import annotations

import datetime
import hashlib
from io import BytesIO
from typing import Any

import pytest
from django.http import Http404

from judicial_link import services
from judicial_link.models import ConfirmationApplication
from mediation.models import Case, CaseState, ClockKind, Deadline, LedgerEntry, Notification, Organisation, User
from signing import verify
from tests.judicial_helpers import application_documents, basic_court, clerk_of

State = ConfirmationApplication.State


@pytest.fixture
def tianhe_court(bank: Organisation) -> Organisation:
    return basic_court("广州市天河区人民法院", bank.region, "J0106")


@pytest.fixture
def clerk(tianhe_court: Organisation) -> User:
    return clerk_of(tianhe_court, "tianhe_clerk")


@pytest.fixture
def application(
    ready_case: Case, consumer: User, tianhe_court: Organisation, clerk: User, django_capture_on_commit_callbacks: Any
) -> ConfirmationApplication:
    with django_capture_on_commit_callbacks(execute=True):
        return services.submit_application(
            ready_case, actor=consumer, court=tianhe_court, documents=application_documents(ready_case)
        )


def test_submitting_stores_the_package_and_starts_the_court_clock(
    application: ConfirmationApplication, clerk: User, consumer: User
) -> None:
    case = application.case
    case.refresh_from_db()
    assert case.state == CaseState.CONFIRMATION_APPLIED
    assert application.state == State.SUBMITTED and application.venue_grounds
    with application.package.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == application.package_sha256 and len(data) == application.package_size
    acceptance = Deadline.objects.get(case=case, kind=ClockKind.COURT_ACCEPTANCE)
    # 3 calendar days, rolled past a holiday or weekend end (民事诉讼法 Art 85), never shorter.
    assert acceptance.status == Deadline.Status.RUNNING and acceptance.length_days == 3
    assert acceptance.due_date >= acceptance.start_date + datetime.timedelta(days=3)
    assert Notification.objects.filter(recipient=clerk, kind="judicial.application.received").exists()
    assert LedgerEntry.objects.filter(case=case, action="judicial.application.submitted").exists()


def test_submitting_is_refused_with_every_problem_named(
    ready_case: Case, consumer: User, tianhe_court: Organisation
) -> None:
    with pytest.raises(services.ApplicationError) as refused:
        services.submit_application(ready_case, actor=consumer, court=tianhe_court, documents=[])
    codes = {p.code for p in refused.value.problems}
    assert codes == {"missing_document"}
    assert len(refused.value.problems) == len(application_documents(ready_case))
    assert not ConfirmationApplication.objects.exists()
    ready_case.refresh_from_db()
    assert ready_case.state == CaseState.AGREEMENT_EFFECTIVE


def test_only_a_party_applies_and_only_once(
    application: ConfirmationApplication, mediator: User, bank_agent: User, tianhe_court: Organisation
) -> None:
    case = application.case
    with pytest.raises(services.ApplicationError) as not_party:
        services.submit_application(case, actor=mediator, court=tianhe_court, documents=application_documents(case))
    assert not_party.value.code == "not_party"
    with pytest.raises(services.ApplicationError):
        services.submit_application(case, actor=bank_agent, court=tianhe_court, documents=application_documents(case))
    assert ConfirmationApplication.objects.count() == 1


def test_a_court_sees_only_its_own_applications(
    application: ConfirmationApplication, clerk: User, court_clerk: User, consumer: User
) -> None:
    assert list(services.applications_for(clerk)) == [application]
    assert not services.applications_for(court_clerk).exists()
    assert not services.applications_for(consumer).exists()
    with pytest.raises(Http404):
        services.application_for_court_user(court_clerk, application.pk)
    with pytest.raises(Http404):
        services.accept(application, clerk=court_clerk, court_case_number="（2026）粤0106民特1号")
    application.refresh_from_db()
    assert application.state == State.SUBMITTED


def test_the_integrity_check_is_green_and_names_a_tampered_file(application: ConfirmationApplication) -> None:
    checked = services.check_integrity(application)
    assert checked.integrity_ok is True and checked.integrity_checked_at is not None
    assert all(f["ok"] for f in checked.integrity_report["files"])
    import zipfile

    with application.package.open("rb") as handle:
        original = handle.read()
    buffer = BytesIO()
    with zipfile.ZipFile(BytesIO(original)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "parties.json":
                content = content.replace(b"138", b"139", 1)
            target.writestr(info, content)
    with open(application.package.path, "wb") as handle:
        handle.write(buffer.getvalue())
    checked = services.check_integrity(application)
    assert checked.integrity_ok is False
    report = checked.integrity_report
    assert any(p["code"] == "package_changed" for p in report["problems"])
    assert any(p.get("path") == "parties.json" for p in report["problems"])


def test_accept_then_confirm_with_a_signed_ruling(
    application: ConfirmationApplication, clerk: User, consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        accepted = services.accept(application, clerk=clerk, court_case_number="（2026）粤0106民特123号")
    assert accepted.state == State.ACCEPTED
    case = accepted.case
    assert not Deadline.objects.filter(case=case, kind=ClockKind.COURT_ACCEPTANCE, status="running").exists()
    ruling_clock = Deadline.objects.get(case=case, kind=ClockKind.COURT_RULING)
    assert ruling_clock.length_days == 15
    assert Notification.objects.filter(recipient=consumer, kind="judicial.application.accepted").exists()

    extended = services.extend_ruling(accepted, clerk=clerk, approval_note="经院长批准延长十日")
    ruling_clock.refresh_from_db()
    assert extended.ruling_extended_at is not None and ruling_clock.extension_days == 10
    with pytest.raises(services.ApplicationError) as twice:
        services.extend_ruling(accepted, clerk=clerk, approval_note="再延长")
    assert twice.value.code == "already_extended"

    with django_capture_on_commit_callbacks(execute=True):
        ruled = services.rule(accepted, clerk=clerk, confirmed=True, reasons="")
    assert ruled.state == State.CONFIRMED
    case.refresh_from_db()
    assert case.state == CaseState.CONFIRMED
    with ruled.ruling.open("rb") as handle:
        pdf = handle.read()
    report = verify.verify_pdf(pdf)
    assert report.ok, report.verdict
    assert report.signatures[0].organisation == "广州市天河区人民法院"
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        text = subprocess.run(["pdftotext", handle.name, "-"], capture_output=True, text=True, check=True).stdout
    compact = "".join(text.split())
    assert (
        "民事裁定书" in compact
        and "确认申请人之间经调解达成的调解协议" in compact
        and "（2026）粤0106民特123号" in compact
    )


def test_a_duplicate_court_case_number_is_refused_on_the_field(
    application: ConfirmationApplication, clerk: User, make_case: Any
) -> None:
    services.accept(application, clerk=clerk, court_case_number="（2026）粤0106民特7号")
    other = ConfirmationApplication.objects.create(
        case=make_case(),
        court=application.court,
        submitted_by=application.submitted_by,
        package=application.package.name,
        package_size=application.package_size,
        package_sha256=application.package_sha256,
        package_sm3=application.package_sm3,
        manifest_sha256=application.manifest_sha256,
    )
    with pytest.raises(services.ApplicationError) as taken:
        services.accept(other, clerk=clerk, court_case_number=" （2026）粤0106民特7号 ")
    assert taken.value.code == "number_taken" and taken.value.field == "court_case_number"
    other.refresh_from_db()
    assert other.state == State.SUBMITTED and other.court_case_number == ""


def test_rejecting_needs_reasons_and_refusing_ends_the_application(
    application: ConfirmationApplication, clerk: User
) -> None:
    with pytest.raises(services.ApplicationError) as no_reason:
        services.refuse(application, clerk=clerk, reason=" ")
    assert no_reason.value.field == "reason"
    refused = services.refuse(application, clerk=clerk, reason="协议内容涉及案外人权益，不属于司法确认受理范围。")
    assert refused.state == State.REFUSED
    refused.case.refresh_from_db()
    assert refused.case.state == CaseState.CONFIRMATION_REJECTED
    with pytest.raises(services.ApplicationError) as late:
        services.rule(refused, clerk=clerk, confirmed=True, reasons="")
    assert late.value.code == "state"


def test_a_rejection_without_reasons_changes_nothing(application: ConfirmationApplication, clerk: User) -> None:
    accepted = services.accept(application, clerk=clerk, court_case_number="（2026）粤0106民特9号")
    with pytest.raises(services.ApplicationError) as refused:
        services.rule(accepted, clerk=clerk, confirmed=False, reasons="")
    assert refused.value.field == "reasons"
    accepted.refresh_from_db()
    assert accepted.state == State.ACCEPTED and not accepted.ruling
    rejected = services.rule(accepted, clerk=clerk, confirmed=False, reasons="调解协议内容违反法律强制性规定。")
    assert rejected.state == State.REJECTED
    rejected.case.refresh_from_db()
    assert rejected.case.state == CaseState.CONFIRMATION_REJECTED
