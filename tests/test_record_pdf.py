"""The mediation record as a sealed PDF, in the court package, and in the pre-flight check.

The PDF is opened with ``pdftotext`` and its seal checked with pyHanko (``signing.verify``); the
package is checked with ``openssl cms`` and ``verify_package`` as a court would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from judicial_link import package
from judicial_link.package import PackageError
from judicial_link.preflight import preflight
from mediation.models import Case, Organisation, User
from sessions import record as records
from sessions.models import MediationRecord
from signing import records as record_pdfs
from signing import verify
from tests.record_helpers import (
    CAUCUS_BANK,
    CAUCUS_CONSUMER,
    JOINT_BANK,
    JOINT_CONSUMER,
    RELEASED,
    Sitting,
    held_sitting,
)
from tests.signing_helpers import PASSWORD
from tests.test_judicial_package import entries, openssl_verify, unzip

pytestmark = pytest.mark.django_db

FACTS = "被投诉机构已于2026年3月收取分期手续费1200元。"
OUTCOME = "双方同意于下周继续调解。"


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.split())


def _finalised(sitting: Sitting, mediator: User) -> MediationRecord:
    records.save_record(
        sitting.session,
        actor=mediator,
        undisputed_facts=FACTS,
        outcome="adjourned",
        outcome_text=OUTCOME,
        statements=[sitting.joint_consumer.pk, sitting.joint_bank.pk, sitting.released_copy.pk],
    )
    return records.finalise(sitting.session, actor=mediator)


def _confirmed(sitting: Sitting, people: dict[str, User], capture: Any, *, execute: bool = True) -> MediationRecord:
    record = _finalised(sitting, people["mediator"])
    records.confirm(record, user=people["consumer"], password=PASSWORD)
    with capture(execute=execute):
        records.confirm(record, user=people["bank_agent"], password=PASSWORD)
    record.refresh_from_db()
    return record


@pytest.fixture
def people(consumer: User, bank_agent: User, mediator: User) -> dict[str, User]:
    return {"consumer": consumer, "bank_agent": bank_agent, "mediator": mediator}


@pytest.fixture
def sitting(mediating_case: Case, people: dict[str, User]) -> Sitting:
    return held_sitting(mediating_case, **people)


def test_the_sealed_record_says_what_was_confirmed_and_nothing_from_a_caucus(
    sitting: Sitting,
    people: dict[str, User],
    centre: Organisation,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    record = _confirmed(sitting, people, django_capture_on_commit_callbacks)

    assert record.is_sealed
    pdf = records.read_sealed(record)
    text = _text(pdf, tmp_path)
    for expected in ("调解笔录", sitting.session.case.number, FACTS, OUTCOME, JOINT_CONSUMER, JOINT_BANK, RELEASED):
        assert "".join(expected.split()) in text, expected
    for name in ("张三", "赵经理", "吴调解员"):
        assert name in text
    assert "短信验证码" in text and "各方当事人明确同意录音录像" in text
    assert "在线确认本笔录内容无误" in text and record.snapshot_sha256 in text
    for secret in (CAUCUS_CONSUMER, CAUCUS_BANK):
        assert secret not in text and secret[:8] not in text
        assert secret.encode() not in pdf and secret.encode("utf-16-be") not in pdf

    report = verify.verify_pdf(pdf)
    assert report.ok, report.verdict
    assert [check.signer for check in report.signatures] == [f"{centre.name}电子印章"]


def test_the_same_confirmed_record_renders_to_the_same_bytes(
    sitting: Sitting, people: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    record = _confirmed(sitting, people, django_capture_on_commit_callbacks, execute=False)
    assert record_pdfs.render_record(record) == record_pdfs.render_record(record)


def test_the_case_downloads_the_pdf_and_outsiders_get_404(
    sitting: Sitting,
    people: dict[str, User],
    case_manager: User,
    outsider: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    record = _confirmed(sitting, people, django_capture_on_commit_callbacks)
    url = reverse("sessions:record_pdf", kwargs={"session_pk": sitting.session.pk})
    for person in (*people.values(), case_manager):
        client = Client()
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content == records.read_sealed(record)
        page = client.get(reverse("sessions:record", kwargs={"session_pk": sitting.session.pk})).content.decode()
        assert url in page
    client = Client()
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_a_record_whose_sealing_failed_is_sealed_by_the_command(
    sitting: Sitting, people: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    record = _confirmed(sitting, people, django_capture_on_commit_callbacks, execute=False)
    assert record.state == MediationRecord.State.CONFIRMED and not record.is_sealed

    call_command("seal_mediation_records")
    record.refresh_from_db()
    assert record.is_sealed and verify.verify_pdf(records.read_sealed(record)).ok
    sealed_sha = record.pdf_sha256
    call_command("seal_mediation_records")  # idempotent
    record.refresh_from_db()
    assert record.pdf_sha256 == sealed_sha


# --- the court package and the pre-flight check -----------------------------------------------------


@pytest.fixture
def ready_sitting(ready_case: Case, people: dict[str, User]) -> Sitting:
    return held_sitting(ready_case, **people)


def _problems(case: Case, court: Organisation) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in preflight(case, court=court).problems:
        if problem.code.startswith("mediation_record"):
            found.setdefault(problem.code, []).append(problem.subject)
    return found


def test_preflight_names_each_closed_sitting_without_a_confirmed_record(
    ready_sitting: Sitting,
    ready_case: Case,
    people: dict[str, User],
    tianhe: Organisation,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subject = f"session:{ready_sitting.session.pk}"
    assert _problems(ready_case, tianhe) == {"mediation_record_missing": [subject]}

    record = _finalised(ready_sitting, people["mediator"])
    records.confirm(record, user=people["consumer"], password=PASSWORD)
    result = preflight(ready_case, court=tianhe)
    unconfirmed = [p for p in result.problems if p.code == "mediation_record_unconfirmed"]
    assert len(unconfirmed) == 1 and "华南商业银行" in unconfirmed[0].fix and "张三" not in unconfirmed[0].fix

    with django_capture_on_commit_callbacks(execute=False):
        records.confirm(record, user=people["bank_agent"], password=PASSWORD)
    assert _problems(ready_case, tianhe) == {"mediation_record_unsealed": [subject]}
    with pytest.raises(PackageError) as raised:
        package.build_package(ready_case, court=tianhe)
    assert raised.value.code == "mediation_record_unsealed"

    call_command("seal_mediation_records")
    assert _problems(ready_case, tianhe) == {}


def test_the_package_carries_the_sealed_record_and_verifies(
    ready_sitting: Sitting,
    ready_case: Case,
    people: dict[str, User],
    tianhe: Organisation,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    record = _confirmed(ready_sitting, people, django_capture_on_commit_callbacks)

    built = package.build_package(ready_case, court=tianhe)

    listed = {entry["path"]: entry for entry in built.manifest["files"]}
    entry = listed["sessions/mediation-record-01.pdf"]
    assert entry["doc_type"] == "mediation_record" and entry["signed_pdf"] is True
    assert entry["sha256"] == record.pdf_sha256
    files = entries(built.zip_bytes)
    assert files["sessions/mediation-record-01.pdf"] == records.read_sealed(record)
    report = package.verify_package(built.zip_bytes)
    assert report.ok, report.problems
    checked = next(check for check in report.files if check.path == "sessions/mediation-record-01.pdf")
    assert checked.pdf is not None and checked.pdf.ok
    directory = unzip(built.zip_bytes, tmp_path)
    result = openssl_verify(directory)
    assert result.returncode == 0, result.stderr
    for secret in (CAUCUS_CONSUMER, CAUCUS_BANK):
        assert all(secret.encode() not in content for content in files.values())
