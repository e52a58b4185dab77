"""The parties prepare the joint application: venue facts, the court, documents signed and uploaded, submit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from judicial_link import application, package
from judicial_link.models import ApplicationDocument, ConfirmationApplication
from judicial_link.services import ApplicationError
from mediation.models import Case, CaseState, LedgerEntry, Organisation, User
from signing import verify
from signing.evidence import Origin
from tests import factories
from tests.judicial_helpers import basic_court
from tests.signing_helpers import PASSWORD, last_code

pytestmark = pytest.mark.django_db
ORIGIN = Origin(ip="203.0.113.9", user_agent="pytest")
FORM = "application_form"


@pytest.fixture
def haidian() -> Organisation:
    return basic_court("北京市海淀区人民法院", "北京市海淀区", "J0108")


def sign(case: Case, user: User, code: str, capture: Any, **overrides: Any) -> ApplicationDocument:
    with capture(execute=True):
        application.request_code(case, user=user, code=code)
    arguments: dict[str, Any] = {"password": PASSWORD, "otp": last_code(user), "confirmed": True, "origin": ORIGIN}
    arguments.update(overrides)
    with capture(execute=True):
        return application.sign(case, user=user, code=code, **arguments)


def pdf_upload(name: str = "营业执照.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, factories.sample_pdf_bytes(name), content_type="application/pdf")


def prepared(case: Case, consumer: User, bank_agent: User, court: Organisation, capture: Any) -> Case:
    """Everything the application needs, done through the services."""
    application.set_facts(case, user=consumer, domicile_address="天河路 1 号", domicile_region="广东省广州市天河区")
    application.choose_court(case, user=consumer, court_pk=court.pk)
    sign(case, consumer, FORM, capture)
    sign(case, bank_agent, FORM, capture)
    sign(case, consumer, f"undertaking:consumer:{consumer.pk}", capture)
    sign(case, bank_agent, "undertaking:institution", capture)
    for code in ("business_licence", "legal_representative_certificate", "power_of_attorney:institution"):
        application.upload(case, user=bank_agent, code=code, upload_file=pdf_upload())
    return case


# --- venue ----------------------------------------------------------------------------------------


def test_the_consumers_domicile_opens_its_court_and_the_choice_is_limited_to_allowed_courts(
    ready_case: Case, consumer: User, tianhe: Organisation, haidian: Organisation
) -> None:
    with pytest.raises(ApplicationError) as raised:
        application.choose_court(ready_case, user=consumer, court_pk=haidian.pk)
    assert (raised.value.code, raised.value.field) == ("venue", "court")

    application.set_facts(ready_case, user=consumer, domicile_address="中关村大街 1 号", domicile_region="北京市海淀区")
    draft, voided = application.choose_court(ready_case, user=consumer, court_pk=haidian.pk)

    assert draft.court == haidian and voided is False
    assert draft.facts["consumer_domiciles"][str(consumer.pk)] == {
        "address": "中关村大街 1 号",
        "region": "北京市海淀区",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"domicile_region": ""}, "domicile_region"),
        ({"domicile_address": ""}, "domicile_address"),
        ({"domicile_region": "区" * 101}, "domicile_region"),
    ],
)
def test_a_consumers_facts_need_address_and_region(
    ready_case: Case, consumer: User, changes: dict[str, str], field: str
) -> None:
    arguments = {"domicile_address": "天河路 1 号", "domicile_region": "广东省广州市天河区", **changes}
    with pytest.raises(ApplicationError) as raised:
        application.set_facts(
            ready_case,
            user=consumer,
            domicile_address=arguments["domicile_address"],
            domicile_region=arguments["domicile_region"],
        )
    assert raised.value.field == field
    assert application.draft_for(ready_case).facts == {}


def test_outsiders_and_the_mediator_cannot_prepare(ready_case: Case, outsider: User, mediator: User) -> None:
    for person in (outsider, mediator):
        with pytest.raises(ApplicationError) as raised:
            application.set_facts(ready_case, user=person, subject_matter_region="广东省广州市天河区")
        assert raised.value.code == "not_party"


# --- signing --------------------------------------------------------------------------------------


def test_both_applicants_sign_the_form_in_one_pdf(
    ready_case: Case, consumer: User, bank_agent: User, tianhe: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    application.choose_court(ready_case, user=consumer, court_pk=tianhe.pk)
    sign(ready_case, consumer, FORM, django_capture_on_commit_callbacks)
    form = sign(ready_case, bank_agent, FORM, django_capture_on_commit_callbacks)

    assert form.signed_by == [f"consumer:{consumer.pk}", "institution"]
    with form.file.open("rb") as handle:
        report = verify.verify_pdf(handle.read())
    assert report.ok, report.verdict
    assert [s.field_name for s in report.signatures] == [f"applicant-consumer-{consumer.pk}", "applicant-institution"]
    assert consumer.real_name in report.signatures[0].signer
    assert report.signatures[1].organisation == ready_case.institution.name
    assert application.present_codes(form.draft)[FORM] is True


def test_a_wrong_code_or_missing_confirmation_signs_nothing(
    ready_case: Case, consumer: User, tianhe: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    application.choose_court(ready_case, user=consumer, court_pk=tianhe.pk)
    with django_capture_on_commit_callbacks(execute=True):
        application.request_code(ready_case, user=consumer, code=FORM)
    good = last_code(consumer)
    wrong = "000000" if good != "000000" else "000001"
    attempts = (
        ({"otp": wrong, "password": PASSWORD, "confirmed": True}, "code"),
        ({"otp": good, "password": "nope", "confirmed": True}, "password"),
        ({"otp": good, "password": PASSWORD, "confirmed": False}, "confirmed"),
    )
    for arguments, field in attempts:
        with pytest.raises(ApplicationError) as raised:
            application.sign(ready_case, user=consumer, code=FORM, origin=ORIGIN, **arguments)  # type: ignore[arg-type]
        assert raised.value.field == field
    assert not ApplicationDocument.objects.exists()
    assert not LedgerEntry.objects.filter(action="signing.document.signed").exists()
    assert LedgerEntry.objects.filter(action="signing.document.code_failed").count() == 2


def test_each_undertaking_is_signed_by_its_own_party_only(
    ready_case: Case, consumer: User, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    with pytest.raises(ApplicationError) as raised:
        application.request_code(ready_case, user=bank_agent, code=f"undertaking:consumer:{consumer.pk}")
    assert raised.value.code == "not_signer"
    with pytest.raises(ApplicationError) as raised:
        application.request_code(ready_case, user=consumer, code=FORM)  # no court chosen yet
    assert raised.value.code == "no_court"

    undertaking = sign(ready_case, bank_agent, "undertaking:institution", django_capture_on_commit_callbacks)
    with undertaking.file.open("rb") as handle:
        report = verify.verify_pdf(handle.read())
    assert report.ok and report.signatures[0].organisation == ready_case.institution.name
    with pytest.raises(ApplicationError) as raised:
        application.request_code(ready_case, user=bank_agent, code="undertaking:institution")
    assert raised.value.code == "already_signed"


def test_changing_the_court_after_signing_voids_the_form(
    ready_case: Case,
    consumer: User,
    bank_agent: User,
    tianhe: Organisation,
    django_capture_on_commit_callbacks: Any,
) -> None:
    application.set_facts(ready_case, user=consumer, domicile_address="中关村大街 1 号", domicile_region="北京市海淀区")
    haidian = basic_court("北京市海淀区人民法院", "北京市海淀区", "J0108")
    application.choose_court(ready_case, user=consumer, court_pk=tianhe.pk)
    sign(ready_case, consumer, FORM, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _draft, voided = application.choose_court(ready_case, user=bank_agent, court_pk=haidian.pk)

    assert voided is True
    assert not ApplicationDocument.objects.filter(code=FORM).exists()
    assert LedgerEntry.objects.filter(action="judicial.application.form_voided").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_applicants_signing_at_once_both_land(
    ready_case: Case, consumer: User, bank_agent: User, tianhe: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    application.choose_court(ready_case, user=consumer, court_pk=tianhe.pk)
    codes = {}
    for person in (consumer, bank_agent):
        application.request_code(ready_case, user=person, code=FORM)
        codes[person.pk] = last_code(person)
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def go(person: User) -> None:
        try:
            barrier.wait()
            application.sign(
                ready_case, user=person, code=FORM, password=PASSWORD, otp=codes[person.pk], confirmed=True
            )
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(person,)) for person in (consumer, bank_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    form = ApplicationDocument.objects.get(code=FORM)
    assert sorted(form.signed_by) == sorted([f"consumer:{consumer.pk}", "institution"])
    with form.file.open("rb") as handle:
        report = verify.verify_pdf(handle.read())
    assert report.ok and len(report.signatures) == 2


# --- uploads and submission -----------------------------------------------------------------------


def test_uploads_are_checked_and_only_by_the_right_side(ready_case: Case, consumer: User, bank_agent: User) -> None:
    with pytest.raises(ApplicationError) as raised:
        application.upload(ready_case, user=consumer, code="business_licence", upload_file=pdf_upload())
    assert (raised.value.code, raised.value.field) == ("not_uploader", "code")
    text = SimpleUploadedFile("执照.pdf", b"just text pretending", content_type="application/pdf")
    with pytest.raises(ApplicationError) as raised:
        application.upload(ready_case, user=bank_agent, code="business_licence", upload_file=text)
    assert (raised.value.code, raised.value.field) == ("file_type", "file")
    assert not ApplicationDocument.objects.exists()

    stored = application.upload(ready_case, user=bank_agent, code="business_licence", upload_file=pdf_upload())
    assert (stored.kind, stored.extension) == ("uploaded", "pdf")


def test_submit_is_refused_with_the_problems_until_complete_then_the_package_carries_everything(
    ready_case: Case, consumer: User, bank_agent: User, tianhe: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    application.choose_court(ready_case, user=consumer, court_pk=tianhe.pk)
    with pytest.raises(ApplicationError) as raised:
        application.submit(ready_case, user=consumer)
    missing = {problem.subject for problem in raised.value.problems if problem.code == "missing_document"}
    assert missing == {
        FORM,
        f"undertaking:consumer:{consumer.pk}",
        "undertaking:institution",
        "business_licence",
        "legal_representative_certificate",
        "power_of_attorney:institution",
    }
    assert not ConfirmationApplication.objects.exists()

    prepared(ready_case, consumer, bank_agent, tianhe, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        submitted = application.submit(ready_case, user=bank_agent)

    ready_case.refresh_from_db()
    assert ready_case.state == CaseState.CONFIRMATION_APPLIED and submitted.court == tianhe
    with submitted.package.open("rb") as handle:
        report = package.verify_package(handle.read())
    assert report.ok
    checked = {check.path: check for check in report.files}
    for path in (
        "application/application_form.pdf",
        f"application/undertaking-consumer-{consumer.pk}.pdf",
        "application/undertaking-institution.pdf",
        "application/business_licence.pdf",
    ):
        assert path in checked
    # The signed documents' signatures are verified inside the package too.
    assert len(checked["application/application_form.pdf"].pdf.signatures) == 2  # type: ignore[union-attr]
    assert checked[f"application/undertaking-consumer-{consumer.pk}.pdf"].pdf is not None
    assert application.draft_for(ready_case).application is None  # a new draft; the old one is linked
    assert ConfirmationApplication.objects.get().draft.court == tianhe
