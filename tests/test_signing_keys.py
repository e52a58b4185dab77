"""The signer interface, and real PAdES signatures made through it with our TSA and our CRLs."""

from __future__ import annotations

import asyncio
import datetime
from io import BytesIO
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from django.utils import timezone
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import PdfSignatureStatus

from mediation.models import Organisation, User
from signing import keys, pki, tsa
from signing.models import IssuedCertificate
from tests import factories


@pytest.fixture
def authority(db: None) -> pki.Authority:
    return pki.authority()


class RecordingKeyService:
    """Stands in for an HSM or an external CA's signing service."""

    calls: list[tuple[str, int]] = []

    def signer_for(self, certificate: IssuedCertificate) -> signers.Signer:
        self.calls.append(("signer_for", certificate.pk))
        return keys.LocalKeyService().signer_for(certificate)

    def after_signing(self, certificate: IssuedCertificate) -> None:
        self.calls.append(("after_signing", certificate.pk))


def _sign(
    certificate: IssuedCertificate,
    pdf: bytes | None = None,
    *,
    field_name: str = "consumer-1",
    lta: bool = False,
    validation_info: bool = True,
) -> bytes:
    service = keys.key_service()
    authority = pki.authority()
    signer = service.signer_for(certificate)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf or factories.sample_pdf_bytes("agreement")))
        output = signers.PdfSigner(
            signers.PdfSignatureMetadata(
                field_name=field_name,
                subfilter=fields.SigSeedSubFilter.PADES,
                md_algorithm="sha256",
                embed_validation_info=validation_info,
                use_pades_lta=lta,
                validation_context=authority.validation_context() if validation_info else None,
            ),
            signer=signer,
            timestamper=tsa.timestamper(),
        ).sign_pdf(writer)
    finally:
        service.after_signing(certificate)
    return output.getvalue()


def _validate(pdf: bytes, moment: datetime.datetime | None = None, index: int = -1) -> PdfSignatureStatus:
    reader = PdfFileReader(BytesIO(pdf))
    signature = reader.embedded_regular_signatures[index]
    context = pki.authority().validation_context(moment)
    return validate_pdf_signature(signature, signer_validation_context=context, ts_validation_context=context)


# --- the interface -------------------------------------------------------------------------------


def test_key_service_is_the_configured_class(settings: Any) -> None:
    assert isinstance(keys.key_service(), keys.LocalKeyService)
    settings.SIGNING_KEY_SERVICE = "tests.test_signing_keys.RecordingKeyService"
    assert isinstance(keys.key_service(), RecordingKeyService)


def test_pdf_signatures_go_through_the_configured_service(
    authority: pki.Authority, consumer: User, settings: Any
) -> None:
    settings.SIGNING_KEY_SERVICE = "tests.test_signing_keys.RecordingKeyService"
    RecordingKeyService.calls = []
    certificate = authority.issue_event_certificate(consumer)
    _sign(certificate, validation_info=False)
    assert RecordingKeyService.calls == [("signer_for", certificate.pk), ("after_signing", certificate.pk)]
    certificate.refresh_from_db()
    assert bytes(certificate.encrypted_key)  # this stand-in service keeps keys; the local one would not


def test_loaded_key_signer_signs_and_returns_placeholders_on_dry_run(authority: pki.Authority, consumer: User) -> None:
    certificate = authority.issue_event_certificate(consumer)
    signer = keys.LocalKeyService().signer_for(certificate)
    assert isinstance(signer, keys.LoadedKeySigner)
    assert signer.signing_cert is not None
    assert signer.signing_cert.dump() == bytes(certificate.certificate_der)
    registry = {cert.dump() for cert in signer.cert_registry}
    assert registry == {authority.issuing_cert.dump(), authority.root_cert.dump()}

    placeholder = asyncio.run(signer.async_sign_raw(b"data", "sha256", dry_run=True))
    assert placeholder == bytes(256)
    signature = asyncio.run(signer.async_sign_raw(b"data", "sha256"))
    assert len(signature) == 256 and signature != placeholder
    public_key = pki.load_private_key(certificate).public_key()
    public_key.verify(signature, b"data", PKCS1v15(), hashes.SHA256())  # raises when wrong


def test_event_key_is_destroyed_after_signing_and_cannot_sign_again(authority: pki.Authority, consumer: User) -> None:
    certificate = authority.issue_event_certificate(consumer)
    service = keys.LocalKeyService()
    service.signer_for(certificate)
    service.after_signing(certificate)

    stored = IssuedCertificate.objects.get(pk=certificate.pk)
    assert bytes(stored.encrypted_key) == b""
    assert stored.key_destroyed_at is not None
    assert certificate.key_destroyed_at == stored.key_destroyed_at
    with pytest.raises(pki.KeyDestroyedError):
        service.signer_for(stored)
    with pytest.raises(pki.KeyDestroyedError):
        pki.load_private_key(stored)
    service.after_signing(stored)  # idempotent: the first destruction time stays
    assert IssuedCertificate.objects.get(pk=certificate.pk).key_destroyed_at == stored.key_destroyed_at


def test_seal_key_survives_signing(authority: pki.Authority, bank: Organisation) -> None:
    seal = authority.seal_certificate(bank)
    service = keys.LocalKeyService()
    service.signer_for(seal)
    service.after_signing(seal)
    seal.refresh_from_db()
    assert bytes(seal.encrypted_key) and seal.key_destroyed_at is None
    assert service.signer_for(seal).signing_cert is not None


def test_revoked_or_expired_certificates_cannot_sign(
    authority: pki.Authority, consumer: User, bank: Organisation
) -> None:
    service = keys.LocalKeyService()
    seal = authority.seal_certificate(bank)
    authority.revoke(seal, "keyCompromise")
    with pytest.raises(pki.PkiError, match=seal.serial):
        service.signer_for(seal)
    event = authority.issue_event_certificate(consumer)
    IssuedCertificate.objects.filter(pk=event.pk).update(not_after=timezone.now() - datetime.timedelta(seconds=1))
    event.refresh_from_db()
    with pytest.raises(pki.PkiError, match=event.serial):
        service.signer_for(event)


# --- real PAdES signatures -----------------------------------------------------------------------


def test_b_lt_signature_with_our_tsa_and_crls_validates(authority: pki.Authority, consumer: User) -> None:
    certificate = authority.issue_event_certificate(consumer)
    pdf = _sign(certificate)

    status = _validate(pdf)
    assert status.bottom_line is True, status.pretty_print_details()
    assert status.signing_cert.dump() == bytes(certificate.certificate_der)
    assert status.md_algorithm == "sha256"
    assert status.pkcs7_signature_mechanism in ("sha256_rsa", "rsassa_pkcs1v15")
    stamp = status.timestamp_validity
    assert stamp is not None and stamp.trusted and stamp.intact
    assert abs(stamp.timestamp - timezone.now()) < datetime.timedelta(minutes=1)

    reader = PdfFileReader(BytesIO(pdf))
    # PDF/A-3 needs 1.7 at most: RSA keeps the file off 2.0.
    assert reader.input_version < (2, 0)
    signed_data = reader.embedded_regular_signatures[0].signed_data
    embedded = {cert.chosen.dump() for cert in signed_data["certificates"]}
    assert {authority.issuing_cert.dump(), bytes(certificate.certificate_der)} <= embedded

    # B-LT: both CRLs went into the document security store.
    dss = DocumentSecurityStore.read_dss(reader)
    issuers = {
        asn1_crl.CertificateList.load(ref.get_object().data)["tbs_cert_list"]["issuer"].dump() for ref in dss.crls
    }
    assert issuers == {authority.root_cert.subject.dump(), authority.issuing_cert.subject.dump()}
    dss_certs = {ref.get_object().data for ref in dss.certs.values()}
    assert authority.tsa_cert.dump() in dss_certs

    # The event key is gone, the signature stays valid.
    certificate.refresh_from_db()
    assert certificate.key_destroyed_at is not None


def test_b_lta_adds_a_document_timestamp_that_validates(authority: pki.Authority, bank: Organisation) -> None:
    seal = authority.seal_certificate(bank)
    pdf = _sign(seal, field_name="institution", lta=True)
    reader = PdfFileReader(BytesIO(pdf))
    (document_timestamp,) = reader.embedded_timestamp_signatures
    context = authority.validation_context()
    ts_status = validate_pdf_timestamp(document_timestamp, validation_context=context)
    assert ts_status.valid and ts_status.trusted and ts_status.intact
    assert _validate(pdf).bottom_line is True


def test_expired_event_certificate_validates_at_its_timestamp_time(authority: pki.Authority, consumer: User) -> None:
    """Time travel: validate "an hour after the event certificate expired" with a context whose moment is then.

    pyHanko's ``validate_pdf_signature`` checks the signer against the context's moment even when the
    signature carries a timestamp, so it calls such a signature untrusted (OUT_OF_BOUNDS_NO_POE). Validating
    at the timestamp's time, which the TSA's long-lived certificate vouches for, makes it good again.
    """
    certificate = authority.issue_event_certificate(consumer)
    pdf = _sign(certificate)
    later = certificate.not_after + datetime.timedelta(hours=1)

    expired = _validate(pdf, moment=later)
    assert expired.intact and expired.valid
    assert expired.bottom_line is False
    assert expired.trust_problem_indic == AdESIndeterminate.OUT_OF_BOUNDS_NO_POE
    assert expired.timestamp_validity is not None and expired.timestamp_validity.trusted

    at_timestamp = _validate(pdf, moment=expired.timestamp_validity.timestamp)
    assert at_timestamp.bottom_line is True, at_timestamp.pretty_print_details()


def test_revocation_after_the_timestamp_does_not_undo_the_signature(
    authority: pki.Authority, bank: Organisation
) -> None:
    seal = authority.seal_certificate(bank)
    pdf = _sign(seal, field_name="institution")
    stamped_at = _validate(pdf).timestamp_validity.timestamp  # type: ignore[union-attr]

    authority.revoke(seal, "keyCompromise")
    IssuedCertificate.objects.filter(pk=seal.pk).update(revoked_at=stamped_at + datetime.timedelta(seconds=2))
    an_hour_later = _validate(pdf, moment=stamped_at + datetime.timedelta(hours=1))
    assert an_hour_later.revoked and an_hour_later.bottom_line is False
    assert _validate(pdf, moment=stamped_at).bottom_line is True

    # Revoked before the signature's time (the key was compromised earlier): not good at any time.
    IssuedCertificate.objects.filter(pk=seal.pk).update(revoked_at=stamped_at - datetime.timedelta(minutes=5))
    assert _validate(pdf, moment=stamped_at).bottom_line is False


def test_a_signature_from_another_ca_is_not_trusted(authority: pki.Authority, consumer: User) -> None:
    certificate = authority.issue_event_certificate(consumer)
    ours = _sign(certificate, validation_info=False)
    assert _validate(ours).bottom_line is True

    # A stranger's self-issued leaf, timestamped by our own TSA: intact, but nobody we trust vouches for it.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "张三")])
    stranger = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(minutes=30))
        .sign(key, hashes.SHA256())
    )
    signer = keys.LoadedKeySigner(
        asn1_x509.Certificate.load(stranger.public_bytes(serialization.Encoding.DER)), key, chain=()
    )
    writer = IncrementalPdfFileWriter(BytesIO(factories.sample_pdf_bytes("agreement")))
    forged = (
        signers.PdfSigner(
            signers.PdfSignatureMetadata(field_name="consumer-1", subfilter=fields.SigSeedSubFilter.PADES),
            signer=signer,
            timestamper=tsa.TimeStampAuthority(authority),
        )
        .sign_pdf(writer)
        .getvalue()
    )
    status = _validate(forged)
    assert status.intact and status.valid
    assert status.trusted is False and status.bottom_line is False
