"""signing.verify on real signed PDFs: valid files pass, and every kind of tampering is named.

The files come from tests.pdf_fixtures (WeasyPrint render, three pre-created fields, the last one
locking the document, sequential B-T signatures from a test PKI of its own).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mediation.models import Case, User
from signing import verify
from signing.models import IssuedCertificate
from signing.verify import VerificationError, verify_pdf
from tests import pdf_fixtures as pdfs

SIGNERS = ["张三", "华南商业银行", "广东金融消费纠纷调解中心"]


@pytest.fixture
def context() -> ValidationContext:
    return pdfs.test_pki().validation_context()


def check(data: bytes, context: ValidationContext | None = None) -> verify.PdfReport:
    return verify_pdf(data, validation_context=context or pdfs.test_pki().validation_context())


# --- valid files ----------------------------------------------------------------------------------


def test_fully_signed_agreement_is_valid_with_every_signer(context: ValidationContext) -> None:
    data = pdfs.fully_signed()
    before = datetime.now(UTC)

    report = check(data, context)

    assert report.ok is True
    assert [s.signer for s in report.signatures] == SIGNERS
    assert [s.field_name for s in report.signatures] == list(pdfs.FIELDS)
    assert [s.organisation for s in report.signatures] == ["", "华南商业银行", "广东金融消费纠纷调解中心"]
    pki = pdfs.test_pki()
    assert [s.serial for s in report.signatures] == [
        format(pki.signers[name].certificate.serial_number, "X") for name in pdfs.FIELDS
    ]
    for signature in report.signatures:
        assert (signature.intact, signature.valid, signature.trusted) == (True, True, True)
        assert (signature.revoked, signature.changed_after, signature.ok) == (False, False, True)
        assert signature.timestamp_trusted is True
        assert signature.timestamp_at is not None and signature.signed_at is not None
        assert abs(signature.timestamp_at - signature.signed_at) < timedelta(minutes=1)
        assert signature.timestamp_at < before
        assert signature.verdict == "签名有效：签名人身份可信，签署后文件未被篡改。"
    # Earlier signatures see the later ones as form filling; the last one covers the whole file.
    assert [s.modification_level for s in report.signatures] == ["FORM_FILLING", "FORM_FILLING", "NONE"]
    assert [s.coverage for s in report.signatures] == ["ENTIRE_REVISION", "ENTIRE_REVISION", "ENTIRE_FILE"]
    assert report.verdict == "文件中的签名全部有效（共 3 个），签署后文件未被篡改。"
    assert report.unsigned_fields == []
    assert report.timestamps == []
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.sm3 == hashlib.new("sm3", data).hexdigest()
    assert report.size == len(data)


def test_every_intermediate_revision_is_valid_and_names_the_pending_fields(context: ValidationContext) -> None:
    revisions = pdfs.signed_revisions()

    first = check(revisions[1], context)
    second = check(revisions[2], context)

    assert first.ok and second.ok
    assert [s.signer for s in first.signatures] == SIGNERS[:1]
    assert first.unsigned_fields == ["institution", "centre-seal"]
    assert second.unsigned_fields == ["centre-seal"]
    assert first.verdict == "已有的 1 个签名均有效，签署后文件未被篡改；另有 2 个签名栏尚未签署。"


def test_lta_seal_adds_a_valid_document_timestamp(context: ValidationContext) -> None:
    report = check(pdfs.fully_signed_lta(), context)

    assert report.ok is True
    assert len(report.timestamps) == 1
    stamp = report.timestamps[0]
    assert (stamp.intact, stamp.valid, stamp.trusted, stamp.ok) == (True, True, True, True)
    assert stamp.timestamp_at is not None
    # Validation data and the archive timestamp are the only things after the seal.
    assert report.signatures[-1].modification_level == "LTA_UPDATES"
    assert report.signatures[-1].changed_after is False


# --- tampering ------------------------------------------------------------------------------------


def test_flipped_byte_in_signed_content_breaks_every_signature(context: ValidationContext) -> None:
    report = check(pdfs.flip_byte_in_signed_range(pdfs.fully_signed()), context)

    assert report.ok is False
    assert [s.intact for s in report.signatures] == [False, False, False]
    assert not any(s.ok or s.trusted for s in report.signatures)
    assert report.signatures[0].verdict == "签名已损坏：签署后，签名所覆盖的文件内容被改动过。"
    assert report.verdict == "文件已被篡改：第 1 个签名（张三）所覆盖的内容被改动过。"


@pytest.mark.parametrize(
    "tamper",
    [pdfs.rotate_page_after_signing, pdfs.add_content_after_signing, pdfs.replace_page_after_signing],
    ids=["rotated page", "added content stream", "replaced page"],
)
def test_incremental_update_after_the_last_signature_is_caught(
    tamper: Callable[[bytes], bytes], context: ValidationContext
) -> None:
    tampered = tamper(pdfs.fully_signed())

    report = check(tampered, context)

    # The signed bytes are untouched, and a bare CMS check passes; only the diff analysis sees it (P14).
    assert [s.intact for s in report.signatures] == [True, True, True]
    assert [s.valid for s in report.signatures] == [True, True, True]
    assert [s.changed_after for s in report.signatures] == [True, True, True]
    assert [s.modification_level for s in report.signatures] == ["OTHER", "OTHER", "OTHER"]
    assert not any(s.ok for s in report.signatures)
    assert report.ok is False
    assert report.signatures[2].verdict.startswith("签署之后文件又被以不允许的方式修改过")
    assert report.verdict.startswith("文件在第 3 个签名（广东金融消费纠纷调解中心）之后被修改过")


def test_update_after_the_document_timestamp_is_caught(context: ValidationContext) -> None:
    report = check(pdfs.rotate_page_after_signing(pdfs.fully_signed_lta()), context)

    assert report.ok is False
    assert report.timestamps[0].changed_after is True
    assert report.timestamps[0].ok is False
    assert all(s.changed_after for s in report.signatures)


def test_change_between_two_signatures_is_pinned_to_the_earlier_one(context: ValidationContext) -> None:
    # Someone rotates the page after the first signature; the institution then signs the altered file.
    altered = pdfs.rotate_page_after_signing(pdfs.signed_revisions()[1])
    report = check(pdfs.sign(altered, "institution"), context)

    assert [s.changed_after for s in report.signatures] == [True, False]
    assert report.signatures[1].ok is True
    assert report.ok is False
    assert report.verdict.startswith("文件在第 1 个签名（张三）之后被修改过")


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")
def test_pdfsig_is_fooled_by_the_rotated_page_but_we_are_not(tmp_path: Path, context: ValidationContext) -> None:
    """Pitfall P14: a generic verifier checks each signature's byte range and nothing after it."""
    tampered = tmp_path / "rotated.pdf"
    tampered.write_bytes(pdfs.rotate_page_after_signing(pdfs.fully_signed()))

    result = subprocess.run(["pdfsig", str(tampered)], capture_output=True, text=True, timeout=60)

    assert check(tampered.read_bytes(), context).ok is False
    if result.stdout.count("Signature is Valid") != 3:
        pytest.skip("this poppler catches the update: P14 no longer describes pdfsig here")


# --- trust -----------------------------------------------------------------------------------------


def test_signature_by_a_foreign_ca_is_not_trusted(context: ValidationContext) -> None:
    pki = pdfs.test_pki()
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", pki.foreign_signer, chain=(pki.foreign_root,))

    report = check(data, context)

    signature = report.signatures[0]
    assert signature.signer == "张三"
    assert (signature.intact, signature.valid, signature.changed_after) == (True, True, False)
    assert signature.trusted is False and signature.ok is False
    assert signature.verdict.startswith("签名人的证书不是由本平台的认证机构签发的")
    assert report.verdict.startswith("第 1 个签名（张三）不是用本平台认证机构签发的有效证书签署的")


def test_expired_event_certificate_is_judged_at_its_timestamp(context: ValidationContext) -> None:
    pki = pdfs.test_pki()
    at = datetime.now(UTC) - timedelta(hours=36)  # inside the certificate's validity, which ended yesterday
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", pki.signers["expired"], timestamp_at=at)

    signature = check(data, context).signatures[0]

    assert signature.signer == "李四"
    assert signature.timestamp_at == at
    assert signature.trusted is True and signature.ok is True


def test_expired_certificate_without_timestamp_is_not_trusted(context: ValidationContext) -> None:
    pki = pdfs.test_pki()
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", pki.signers["expired"], timestamp=False)

    signature = check(data, context).signatures[0]

    assert signature.timestamp_at is None and signature.timestamp_trusted is None
    assert signature.trusted is False and signature.ok is False


def test_timestamp_from_an_untrusted_authority_fails_the_signature(context: ValidationContext) -> None:
    pki = pdfs.test_pki()
    rogue = DummyTimeStamper(tsa_cert=pki.foreign_signer.asn1_certificate, tsa_key=pki.foreign_signer.asn1_key)
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", timestamper=rogue)

    signature = check(data, context).signatures[0]

    assert signature.intact is True
    assert signature.trusted is False and signature.ok is False
    assert signature.timestamp_trusted is False
    assert signature.verdict == "签名的时间戳无效，或不是由可信的时间戳服务出具的。"
    assert check(data, context).verdict == "第 1 个签名（张三）的时间戳无效或不可信，无法确认签署时间。"


def test_certificate_revoked_before_signing_is_reported() -> None:
    pki = pdfs.test_pki()
    data = pdfs.signed_revisions()[1]
    revoked_at = datetime.now(UTC) - timedelta(days=3)
    context = pki.validation_context(crls=(pki.crl({"consumer-1": revoked_at}),))

    report = check(data, context)

    signature = report.signatures[0]
    assert signature.revoked is True
    assert signature.trusted is False and signature.ok is False
    assert signature.verdict == "签名人的证书在签署时已被吊销，该签名不可信。"
    assert report.verdict == "第 1 个签名（张三）的证书已被吊销，该签名不可信。"


def test_certificate_revoked_after_signing_keeps_the_signature_valid() -> None:
    pki = pdfs.test_pki()
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", timestamp_at=datetime.now(UTC) - timedelta(hours=36))
    # The CRL is issued now, after the signature: it still proves the certificate was good back then.
    context = pki.validation_context(crls=(pki.crl({"consumer-1": datetime.now(UTC) - timedelta(hours=1)}),))

    signature = check(data, context).signatures[0]

    assert signature.revoked is False
    assert signature.ok is True


def test_without_a_context_the_built_in_ca_is_the_only_trust_anchor(db: None) -> None:
    """The lazy default is signing.pki's authority; our test PKI's signatures are foreign to it."""
    report = verify_pdf(pdfs.fully_signed())

    assert [s.intact for s in report.signatures] == [True, True, True]
    assert [s.trusted for s in report.signatures] == [False, False, False]
    assert report.ok is False


def _sign_with_built_in_ca(issued: IssuedCertificate) -> bytes:
    from signing import pki

    authority = pki.authority()
    key_der = pki.load_private_key(issued).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tsa_key_der = authority.tsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(bytes(issued.certificate_der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(authority.chain),
    )
    timestamper = DummyTimeStamper(tsa_cert=authority.tsa_cert, tsa_key=asn1_keys.PrivateKeyInfo.load(tsa_key_der))
    return pdfs.sign(pdfs.prepared_agreement(), "consumer-1", signer=signer, timestamper=timestamper)


def test_event_certificate_of_the_built_in_ca_verifies_and_outlives_a_later_revocation(consumer: User) -> None:
    from signing import pki

    authority = pki.authority()
    issued = authority.issue_event_certificate(consumer)
    data = _sign_with_built_in_ca(issued)

    signature = verify_pdf(data).signatures[0]
    assert signature.signer == consumer.real_name
    assert signature.serial == issued.serial
    assert signature.trusted is True and signature.ok is True

    # CRLs date a revocation to the second: revoke in a later second than the signature's timestamp.
    time.sleep(1.01 - datetime.now(UTC).microsecond / 1_000_000)
    authority.revoke(issued, "keyCompromise")
    # Revoked after the signature: the signature keeps its value (the CRL dates the revocation).
    assert verify_pdf(data).signatures[0].ok is True
    # A signature made with the key after the revocation does not.
    late = verify_pdf(_sign_with_built_in_ca(issued)).signatures[0]
    assert late.revoked is True and late.ok is False


# --- files that are not signed PDFs ---------------------------------------------------------------


def test_pdf_without_signatures_is_not_ok(context: ValidationContext) -> None:
    for data in (pdfs.rendered_agreement(), pdfs.prepared_agreement()):
        report = check(data, context)
        assert report.ok is False
        assert report.signatures == []
        assert report.verdict == "该文件没有电子签名，无法证明它出自本平台或未被改动。"
    assert check(pdfs.prepared_agreement(), context).unsigned_fields == list(pdfs.FIELDS)


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"", "empty", "文件为空。"),
        (b"PK\x03\x04 a zip archive, not a PDF", "not_pdf", "这不是PDF文件。请上传本平台出具的调解协议PDF文件。"),
        ("调解协议书".encode() * 10, "not_pdf", "这不是PDF文件。请上传本平台出具的调解协议PDF文件。"),
        (b"%PDF-1.7\nnothing else", "unreadable", "无法读取该PDF文件，文件可能已损坏或不完整。"),
    ],
    ids=["empty", "zip", "text", "header only"],
)
def test_unreadable_input_raises_a_clear_error(data: bytes, code: str, message: str) -> None:
    with pytest.raises(VerificationError) as raised:
        check(data)

    assert raised.value.code == code
    assert raised.value.message == message == str(raised.value)


def test_truncated_signed_pdf_is_unreadable() -> None:
    with pytest.raises(VerificationError) as raised:
        check(pdfs.fully_signed()[:50_000])

    assert raised.value.code == "unreadable"


def test_size_limit_comes_from_settings(settings: Any) -> None:
    settings.VERIFY_MAX_MB = 0
    data = pdfs.fully_signed()

    with pytest.raises(VerificationError) as raised:
        check(data)

    assert raised.value.code == "too_large"
    assert "不能超过 0 MB" in raised.value.message
    assert verify_pdf(data, validation_context=pdfs.test_pki().validation_context(), size_limit=False).ok


def test_default_size_limit_is_twenty_megabytes(settings: Any) -> None:
    if hasattr(settings, "VERIFY_MAX_MB"):
        del settings.VERIFY_MAX_MB
    assert verify.max_upload_bytes() == 20 * 1024 * 1024


# --- the report as data, and the agreement behind a file -------------------------------------------


def test_report_as_dict_is_json_with_iso_datetimes(context: ValidationContext) -> None:
    report = check(pdfs.fully_signed(), context)

    data = json.loads(json.dumps(report.as_dict()))

    assert data["ok"] is True and data["sha256"] == report.sha256
    first = data["signatures"][0]
    assert first["signer"] == "张三" and first["modification_level"] == "FORM_FILLING"
    assert datetime.fromisoformat(first["timestamp_at"]) == report.signatures[0].timestamp_at
    assert datetime.fromisoformat(first["signed_at"]).utcoffset() == timedelta(0)


def test_match_agreement_finds_the_revision_by_hash(mediating_case: Case, context: ValidationContext) -> None:
    revisions = pdfs.signed_revisions()
    pdfs.store_agreement(mediating_case, revisions[:3])

    status = verify.match_agreement(check(revisions[1], context))

    assert status is not None
    assert status.case_number == mediating_case.number
    assert (status.revision, status.latest_revision, status.signed, status.total) == (1, 2, 2, 3)
    assert status.state == "signing"
    assert verify.match_agreement(check(revisions[3], context)) is None


def test_find_agreement_by_code_ignores_case_spaces_and_dashes(mediating_case: Case) -> None:
    agreement = pdfs.store_agreement(mediating_case, [], short_code="QX7K-2M9P")

    assert verify.find_agreement_by_code("qx7k2m9p") == agreement
    assert verify.find_agreement_by_code(" QX7K 2M9P ") == agreement
    assert verify.find_agreement_by_code("qx7k-2m9p") == agreement
    assert verify.find_agreement_by_code("QX7K2M9") is None
    assert verify.find_agreement_by_code("--") is None
