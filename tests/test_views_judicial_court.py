"""The court portal: a court's clerk receives, checks, accepts or refuses, extends and rules; nobody else sees it."""

from __future__ import annotations

import datetime
import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from judicial_link import services
from judicial_link.models import ConfirmationApplication
from mediation.models import Case, CaseState, ClockKind, Deadline, LedgerEntry, Organisation, User
from signing import verify
from tests.judicial_helpers import application_documents, basic_court, clerk_of, effective_case

State = ConfirmationApplication.State
NUMBER = "（2026）粤0106民特123号"
DECISIONS = ("court_accept", "court_refuse", "court_extend", "court_rule", "court_recheck")
PAGES = ("court_application", "court_package", "court_ruling")


@pytest.fixture
def receiving_court(court: Organisation, bank: Organisation) -> Organisation:
    """The ``court`` persona's court, registered over the bank's seat so Art 205 lets it receive the case."""
    court.court_level = Organisation.CourtLevel.BASIC
    court.region = bank.region
    court.save(update_fields=["court_level", "region"])
    return court


@pytest.fixture
def other_court_clerk(db: None) -> User:
    return clerk_of(basic_court("广州市越秀区人民法院", "广东省广州市越秀区", "J0104"), "yuexiu_clerk")


@pytest.fixture
def application(
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    receiving_court: Organisation,
    court_clerk: User,
    django_capture_on_commit_callbacks: Any,
) -> ConfirmationApplication:
    people = {"consumer": consumer, "bank_agent": bank_agent, "mediator": mediator, "case_manager": case_manager}
    case = effective_case(mediating_case, people, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        return services.submit_application(
            case, actor=consumer, court=receiving_court, documents=application_documents(case)
        )


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, application: ConfirmationApplication) -> str:
    return reverse(f"judicial:{name}", kwargs={"application_pk": application.pk})


def stored_row(application: ConfirmationApplication, make_case: Callable[..., Case], **fields: Any) -> Any:
    """Another application row sharing the stored package (for lists and number clashes; no signing needed)."""
    values = {
        "case": make_case(),
        "court": application.court,
        "submitted_by": application.submitted_by,
        "package": application.package.name,
        "package_size": application.package_size,
        "package_sha256": application.package_sha256,
        "package_sm3": application.package_sm3,
        "manifest_sha256": application.manifest_sha256,
        **fields,
    }
    return ConfirmationApplication.objects.create(**values)


def package_entries(application: ConfirmationApplication) -> dict[str, bytes]:
    with application.package.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def tamper(application: ConfirmationApplication, path: str) -> None:
    """Change one byte of one file inside the stored ZIP, as a corrupted or forged transfer would."""
    buffer = io.BytesIO()
    with application.package.open("rb") as handle, zipfile.ZipFile(handle) as source:
        with zipfile.ZipFile(buffer, "w") as target:
            for info in source.infolist():
                content = source.read(info.filename)
                if info.filename == path:
                    content = content.replace(b"138", b"139", 1)
                    assert content != source.read(info.filename)
                target.writestr(info, content)
    with open(application.package.path, "wb") as handle:
        handle.write(buffer.getvalue())


def field_errors(page: str, field: str) -> list[str]:
    """The error paragraphs inside the form field block ``field`` (mediation/accounts/_field.html)."""
    block = re.search(
        rf'<div class="field has-error[^"]*" id="field-id_{field}">(.*?)(?:<div class="field|</form>)', page, re.S
    )
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', block.group(1)) if block else []


def accepted(application: ConfirmationApplication, clerk: User) -> ConfirmationApplication:
    response = client_for(clerk).post(url("court_accept", application), {"court_case_number": NUMBER})
    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    return application


# --- who may see what --------------------------------------------------------------------------


def test_nobody_but_the_courts_clerks_reaches_an_application_and_visitors_must_log_in(
    application: ConfirmationApplication,
    other_court_clerk: User,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    outsider: User,
    regulator: User,
) -> None:
    refused = {
        "other court's clerk": other_court_clerk,
        "consumer": consumer,
        "bank agent": bank_agent,
        "mediator": mediator,
        "case manager": case_manager,
        "outsider": outsider,
        "regulator": regulator,
    }
    for who, user in refused.items():
        client = client_for(user)
        for name in PAGES + DECISIONS:
            for method in ("get", "post"):
                response = getattr(client, method)(url(name, application), {"court_case_number": NUMBER})
                assert response.status_code == 404, f"{who} {method.upper()} {name} -> {response.status_code}"
    application.refresh_from_db()
    assert application.state == State.SUBMITTED and application.integrity_checked_at is None
    assert not LedgerEntry.objects.filter(case=application.case, action__startswith="mediation.viewed.").exists()
    for user in (consumer, bank_agent, mediator, case_manager, outsider, regulator):
        assert client_for(user).get(reverse("judicial:court_inbox")).status_code == 404
    other_inbox = client_for(other_court_clerk).get(reverse("judicial:court_inbox"))
    assert other_inbox.status_code == 200
    assert application.case.number not in other_inbox.content.decode()
    login = reverse("login")
    for name in PAGES + DECISIONS:
        response = Client().post(url(name, application))
        assert response.status_code == 302 and response["Location"].startswith(login), name
    assert Client().get(reverse("judicial:court_inbox"))["Location"].startswith(login)


def test_the_permission_comes_before_the_method(application: ConfirmationApplication, court_clerk: User) -> None:
    clerk = client_for(court_clerk)
    for name in DECISIONS:
        assert clerk.get(url(name, application)).status_code == 405, name
    for name in PAGES:
        assert clerk.post(url(name, application)).status_code == 405, name
    assert clerk.post(reverse("judicial:court_inbox")).status_code == 405


# --- the inbox ---------------------------------------------------------------------------------


def test_the_inbox_lists_the_courts_own_applications_newest_first_with_the_clock(
    application: ConfirmationApplication,
    court_clerk: User,
    other_court_clerk: User,
    make_case: Callable[..., Case],
) -> None:
    older = stored_row(application, make_case, state=State.REFUSED)
    ConfirmationApplication.objects.filter(pk=older.pk).update(
        submitted_at=application.submitted_at - datetime.timedelta(days=2)
    )
    elsewhere = stored_row(application, make_case, court=other_court_clerk.organisation)
    response = client_for(court_clerk).get(reverse("judicial:court_inbox"))
    assert response.status_code == 200
    assert [row[0].pk for row in response.context["rows"]] == [application.pk, older.pk]
    page = response.content.decode()
    assert url("court_application", elsewhere) not in page and elsewhere.case.number not in page
    assert application.case.number in page and "张三" in page and "华南商业银行" in page
    acceptance = Deadline.objects.get(case=application.case, kind=ClockKind.COURT_ACCEPTANCE, status="running")
    days = (acceptance.due_date - timezone.localdate()).days
    assert f"剩余 {days} 天" in page and "已提交法院" in page

    Deadline.objects.filter(pk=acceptance.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=2))
    overdue = client_for(court_clerk).get(reverse("judicial:court_inbox")).content.decode()
    assert re.search(r'<span class="badge danger">\s*已超期 2 天', overdue)


# --- receipt: the integrity check --------------------------------------------------------------


def test_opening_it_the_first_time_checks_the_package_and_shows_green(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    response = client_for(court_clerk).get(url("court_application", application))
    assert response.status_code == 200
    application.refresh_from_db()
    checked_at = application.integrity_checked_at
    assert application.integrity_ok is True and checked_at is not None
    page = response.content.decode()
    assert 'data-integrity="ok"' in page and 'data-ok="false"' not in page
    entries = package_entries(application)
    for path in ("agreement/agreement-signed.pdf", "agreement/signing-report.pdf", "parties.json"):
        digest = hashlib.sha256(entries[path]).hexdigest()
        assert f'data-path="{path}"' in page
        assert f'title="{digest}"' in page and f"{digest[:16]}…" in page
    # The agreement's signatures, each with its signer and organisation, as verified.
    agreement_item = page.split('data-path="agreement/agreement-signed.pdf"', 1)[1].split("data-path=", 1)[0]
    assert (
        "张三" in agreement_item and "华南商业银行" in agreement_item and "广东金融消费纠纷调解中心" in agreement_item
    )
    assert 'data-signature-ok="false"' not in page and agreement_item.count('data-signature-ok="true"') >= 4
    # The forms of a submitted application: accept with a number, or refuse.
    assert url("court_accept", application) in page and url("court_refuse", application) in page
    assert url("court_rule", application) not in page
    # Opening it again does not check again.
    client_for(court_clerk).get(url("court_application", application))
    application.refresh_from_db()
    assert application.integrity_checked_at == checked_at


def test_a_tampered_package_is_red_and_names_the_file(application: ConfirmationApplication, court_clerk: User) -> None:
    clerk = client_for(court_clerk)
    clerk.get(url("court_application", application))
    tamper(application, "parties.json")
    response = clerk.post(url("court_recheck", application))
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.integrity_ok is False
    page = clerk.get(url("court_application", application)).content.decode()
    assert 'data-integrity="failed"' in page and "材料包未通过核验" in page
    assert 'data-path="parties.json" data-ok="false"' in page
    assert "文件 parties.json 与清单记录不符" in page
    assert 'data-path="agreement/agreement-signed.pdf" data-ok="true"' in page


def test_the_package_downloads_as_sent_and_the_download_is_recorded(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    response = client_for(court_clerk).get(url("court_package", application))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{application.case.number}-confirmation.zip"'
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert hashlib.sha256(body).hexdigest() == application.package_sha256
    viewed = LedgerEntry.objects.get(case=application.case, action="mediation.viewed.confirmation_package")
    assert viewed.actor == court_clerk
    assert client_for(court_clerk).get(url("court_ruling", application)).status_code == 404


# --- acceptance ------------------------------------------------------------------------------


def test_accepting_with_a_number_starts_the_ruling_clock(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    clerk = client_for(court_clerk)
    response = clerk.post(url("court_accept", application), {"court_case_number": f"  {NUMBER} "})
    assert response.status_code == 302 and response["Location"] == url("court_application", application)
    application.refresh_from_db()
    assert application.state == State.ACCEPTED and application.court_case_number == NUMBER
    assert Deadline.objects.filter(case=application.case, kind=ClockKind.COURT_RULING, status="running").exists()
    page = clerk.get(url("court_application", application)).content.decode()
    assert "已受理，法院案号为" in page and NUMBER in page and "法院已受理" in page
    assert url("court_rule", application) in page and url("court_extend", application) in page
    assert url("court_accept", application) not in page
    assert "法院审查裁定期限" in page


def test_a_number_already_used_by_the_court_is_refused_on_the_field(
    application: ConfirmationApplication, court_clerk: User, make_case: Callable[..., Case]
) -> None:
    stored_row(application, make_case, state=State.CONFIRMED, court_case_number=NUMBER)
    response = client_for(court_clerk).post(url("court_accept", application), {"court_case_number": NUMBER})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "court_case_number") == [f"本院已有案号为 {NUMBER} 的案件。"]
    application.refresh_from_db()
    assert application.state == State.SUBMITTED and application.court_case_number == ""
    assert not LedgerEntry.objects.filter(case=application.case, action="judicial.application.accepted").exists()

    blank = client_for(court_clerk).post(url("court_accept", application), {"court_case_number": " "})
    assert blank.status_code == 400 and field_errors(blank.content.decode(), "court_case_number")


def test_refusing_needs_a_reason_and_ends_the_application(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    clerk = client_for(court_clerk)
    missing = clerk.post(url("court_refuse", application), {"reason": ""})
    assert missing.status_code == 400 and field_errors(missing.content.decode(), "reason")
    application.refresh_from_db()
    assert application.state == State.SUBMITTED

    reason = "协议内容涉及案外人权益，不属于司法确认受理范围。"
    assert clerk.post(url("court_refuse", application), {"reason": reason}).status_code == 302
    application.refresh_from_db()
    assert application.state == State.REFUSED and application.refusal_reason == reason
    page = clerk.get(url("court_application", application)).content.decode()
    assert reason in page and "法院不予受理" in page
    assert url("court_accept", application) not in page and url("court_rule", application) not in page
    late = clerk.post(url("court_accept", application), {"court_case_number": NUMBER})
    assert late.status_code == 400 and "不能办理此事项" in late.content.decode()


# --- ruling ----------------------------------------------------------------------------------


def test_the_ruling_period_is_extended_once_with_the_approval(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    accepted(application, court_clerk)
    clerk = client_for(court_clerk)
    empty = clerk.post(url("court_extend", application), {"approval_note": ""})
    assert empty.status_code == 400 and field_errors(empty.content.decode(), "approval_note")

    note = "经院长批准延长审查期限十日。"
    assert clerk.post(url("court_extend", application), {"approval_note": note}).status_code == 302
    clock = Deadline.objects.get(case=application.case, kind=ClockKind.COURT_RULING, status="running")
    assert clock.extension_days == 10
    page = clerk.get(url("court_application", application)).content.decode()
    assert note in page and url("court_extend", application) not in page and "已延长 10 天" in page

    again = clerk.post(url("court_extend", application), {"approval_note": "再延长"})
    assert again.status_code == 400 and "审查期限已延长过一次" in again.content.decode()
    clock.refresh_from_db()
    assert clock.extension_days == 10


def test_a_rejection_without_reasons_is_refused_on_the_field_and_changes_nothing(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    accepted(application, court_clerk)
    clerk = client_for(court_clerk)
    response = clerk.post(url("court_rule", application), {"decision": "reject", "reasons": "  "})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "reasons") == ["驳回申请须写明理由。"]
    application.refresh_from_db()
    assert application.state == State.ACCEPTED and not application.ruling and application.ruled_at is None
    assert not LedgerEntry.objects.filter(case=application.case, action="judicial.application.ruled").exists()

    no_decision = clerk.post(url("court_rule", application), {"reasons": "理由"})
    assert no_decision.status_code == 400 and field_errors(no_decision.content.decode(), "decision")


def test_confirming_returns_a_ruling_signed_by_the_court(
    application: ConfirmationApplication, court_clerk: User
) -> None:
    accepted(application, court_clerk)
    clerk = client_for(court_clerk)
    response = clerk.post(url("court_rule", application), {"decision": "confirm", "reasons": ""})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == State.CONFIRMED
    application.case.refresh_from_db()
    assert application.case.state == CaseState.CONFIRMED
    page = clerk.get(url("court_application", application)).content.decode()
    assert "已裁定确认调解协议有效" in page and url("court_ruling", application) in page
    assert url("court_rule", application) not in page and url("court_extend", application) not in page

    download = clerk.get(url("court_ruling", application))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == f'attachment; filename="{application.case.number}-ruling.pdf"'
    pdf = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert hashlib.sha256(pdf).hexdigest() == application.ruling_sha256
    report = verify.verify_pdf(pdf)
    assert report.ok, report.verdict
    assert [signature.organisation for signature in report.signatures] == [application.court.name]


def test_a_court_clerk_lands_on_the_court_inbox(client: Client, court_clerk: User) -> None:
    client.force_login(court_clerk)
    home = client.get(reverse("home"))
    assert home.status_code == 302 and home["Location"] == reverse("judicial:court_inbox")
    page = client.get(home["Location"]).content.decode()
    assert f'href="{reverse("judicial:court_inbox")}"' in page
