"""The built-in CA: files on disk, leaf certificates, CRLs, the public endpoints and ``init_pki``.

Certificates are checked with OpenSSL in a subprocess, not only with the library that made them.
"""

from __future__ import annotations

import asyncio
import datetime
import multiprocessing
import re
import shutil
import stat
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, RevokedError

from mediation.models import LedgerEntry, Organisation, User
from signing import pki
from signing.models import IssuedCertificate

ORGANIZATION_IDENTIFIER = ObjectIdentifier("2.5.4.97")


@pytest.fixture
def authority(db: None) -> pki.Authority:
    return pki.authority()


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


def _pem(path: Path, der: bytes) -> Path:
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    return path


def _cert(issued: IssuedCertificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(issued.certificate_der))


def _openssl_verify(authority: pki.Authority, tmp_path: Path, leaf_der: bytes) -> subprocess.CompletedProcess[str]:
    return _openssl(
        "verify",
        "-CAfile",
        authority.path("root.crt"),
        "-untrusted",
        authority.path("issuing.crt"),
        _pem(tmp_path / "leaf.pem", leaf_der),
    )


# --- the CA on disk ----------------------------------------------------------------------------


def test_ca_files_are_private_and_keys_need_the_passphrase(authority: pki.Authority, settings: Any) -> None:
    directory = Path(settings.SIGNING_PKI_DIR)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("root", "issuing", "tsa"):
        assert stat.S_IMODE((directory / f"{name}.crt").stat().st_mode) == 0o600
        key_file = (directory / f"{name}.key").read_bytes()
        assert stat.S_IMODE((directory / f"{name}.key").stat().st_mode) == 0o600
        assert key_file.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):  # "Password was not given but private key is encrypted"
            serialization.load_pem_private_key(key_file, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(key_file, password=b"not the passphrase")
        key = serialization.load_pem_private_key(key_file, password=settings.SIGNING_KEY_PASSPHRASE.encode())
        assert isinstance(key, rsa.RSAPrivateKey)
    assert authority.root_key.key_size == 3072
    assert authority.issuing_key.key_size == 3072
    assert authority.tsa_key.key_size == 2048
    result = _openssl("pkey", "-in", directory / "root.key", "-passin", "pass:wrong", "-noout")
    assert result.returncode != 0


def test_authority_is_cached_per_process_and_directory(authority: pki.Authority) -> None:
    assert pki.authority() is authority


def test_hierarchy_is_rsa_sha256_with_constrained_ca_and_critical_timestamping_eku(
    authority: pki.Authority, tmp_path: Path
) -> None:
    root, issuing, tsa = authority.root, authority.issuing, authority.tsa
    for certificate in (root, issuing, tsa):
        assert certificate.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert root.issuer == root.subject
    assert issuing.issuer == root.subject
    assert tsa.issuer == issuing.subject
    constraints = issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert not tsa.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    assert _openssl_verify(authority, tmp_path, authority.certificate_der("tsa")).returncode == 0
    result = _openssl(
        "verify",
        "-purpose",
        "timestampsign",
        "-CAfile",
        authority.path("root.crt"),
        "-untrusted",
        authority.path("issuing.crt"),
        authority.path("tsa.crt"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _race(directory: str, start: Any, results: Any) -> None:
    start.wait()
    loaded = pki.load_or_create(Path(directory), b"race passphrase", "http://127.0.0.1:8000")
    results.put((loaded.created, loaded.root_fingerprint))


def test_concurrent_first_use_in_several_processes_creates_one_ca(tmp_path: Path, settings: Any) -> None:
    directory = tmp_path / "fresh-ca"
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_race, args=(str(directory), start, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0

    assert sorted(created for created, _ in outcomes) == [False, False, True]
    assert len({fingerprint for _, fingerprint in outcomes}) == 1
    assert sorted(p.name for p in directory.iterdir()) == [
        ".lock",
        "issuing.crt",
        "issuing.key",
        "root.crt",
        "root.key",
        "tsa.crt",
        "tsa.key",
    ]
    # This process loads what the racers wrote; it generates nothing, the files stay as they are.
    settings.SIGNING_PKI_DIR = directory
    settings.SIGNING_KEY_PASSPHRASE = "race passphrase"
    loaded = pki.initialise()
    assert not loaded.created
    assert loaded.root_fingerprint == outcomes[0][1]
    assert pki.authority() is loaded


def test_a_missing_key_is_reported_not_regenerated(authority: pki.Authority, tmp_path: Path, settings: Any) -> None:
    copy = tmp_path / "ca"
    shutil.copytree(authority.directory, copy)  # a copy of this worker's CA: generating one is the slow part
    (copy / "issuing.key").unlink()
    settings.SIGNING_PKI_DIR = copy
    with pytest.raises(pki.PkiError, match="issuing.key is missing"):
        pki.initialise()
    assert (copy / "root.crt").read_bytes() == authority.path("root.crt").read_bytes()
    assert not (copy / "issuing.key").exists()


# --- event certificates ------------------------------------------------------------------------


def test_event_certificate_names_the_person_without_their_id_number(
    authority: pki.Authority, consumer: User, settings: Any, tmp_path: Path
) -> None:
    before = timezone.now()
    issued = authority.issue_event_certificate(consumer)
    certificate = _cert(issued)

    assert issued.kind == IssuedCertificate.Kind.EVENT
    assert issued.user == consumer
    assert issued.serial == format(certificate.serial_number, "X")
    assert certificate.issuer == authority.issuing.subject
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    assert certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    serial_number = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    id_number = consumer.reveal_id_number()
    assert id_number and id_number not in serial_number and id_number[-4:] not in serial_number
    assert consumer.id_number_digest not in str(serial_number).lower()
    assert "张三" in issued.subject

    assert certificate.public_key().key_size == 2048  # type: ignore[union-attr]
    assert certificate.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    minutes = settings.SIGNING_EVENT_CERT_MINUTES
    assert before - datetime.timedelta(minutes=1, seconds=2) <= certificate.not_valid_before_utc <= before
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert abs(lifetime - datetime.timedelta(minutes=minutes + 1)) < datetime.timedelta(seconds=2)
    assert issued.not_after == certificate.not_valid_after_utc

    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for name in points[0].full_name or []] == [f"{settings.PUBLIC_BASE_URL}/pki/issuing.crl"]
    access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in access] == [f"{settings.PUBLIC_BASE_URL}/pki/issuing.crt"]

    result = _openssl_verify(authority, tmp_path, bytes(issued.certificate_der))
    assert result.returncode == 0, result.stdout + result.stderr


def test_event_certificates_get_a_fresh_key_each_and_a_stable_person_serial(
    authority: pki.Authority, consumer: User, other_consumer: User, mediator: User
) -> None:
    first = authority.issue_event_certificate(consumer)
    second = authority.issue_event_certificate(consumer)
    other = authority.issue_event_certificate(other_consumer)
    staff = authority.issue_event_certificate(mediator)

    def person_serial(issued: IssuedCertificate) -> str:
        return str(_cert(issued).subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value)

    assert first.serial != second.serial
    assert _cert(first).public_key() != _cert(second).public_key()
    assert person_serial(first) == person_serial(second)
    assert len({person_serial(first), person_serial(other), person_serial(staff)}) == 3
    assert not mediator.id_number_digest  # staff are told apart by account
    assert re.fullmatch(r"FQ[0-9A-F]{32}", person_serial(staff))


def test_issued_key_is_encrypted_with_the_passphrase(authority: pki.Authority, consumer: User, settings: Any) -> None:
    issued = authority.issue_event_certificate(consumer)
    data = bytes(issued.encrypted_key)
    with pytest.raises(TypeError):
        serialization.load_der_private_key(data, password=None)
    with pytest.raises(ValueError):
        serialization.load_der_private_key(data, password=b"guess")
    key = pki.load_private_key(issued)
    assert key.public_key().public_numbers() == _cert(issued).public_key().public_numbers()  # type: ignore[union-attr]


def test_load_private_key_refuses_a_destroyed_key(authority: pki.Authority, consumer: User) -> None:
    issued = authority.issue_event_certificate(consumer)
    IssuedCertificate.objects.filter(pk=issued.pk).update(encrypted_key=b"", key_destroyed_at=timezone.now())
    issued.refresh_from_db()
    with pytest.raises(pki.KeyDestroyedError, match=issued.serial):
        pki.load_private_key(issued)


# --- seal certificates -------------------------------------------------------------------------


def test_seal_certificate_names_the_organisation_and_its_credit_code(
    authority: pki.Authority, bank: Organisation, tmp_path: Path
) -> None:
    issued = authority.seal_certificate(bank)
    certificate = _cert(issued)

    assert issued.kind == IssuedCertificate.Kind.SEAL
    assert issued.organisation == bank and issued.user is None
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "华南商业银行"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "华南商业银行电子印章"
    assert subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER)[0].value == bank.credit_code
    lifetime = certificate.not_valid_after_utc - timezone.now()
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365)
    assert bytes(issued.encrypted_key)
    result = _openssl_verify(authority, tmp_path, bytes(issued.certificate_der))
    assert result.returncode == 0, result.stdout + result.stderr


def test_seal_certificate_is_reused_until_thirty_days_before_expiry(
    authority: pki.Authority, bank: Organisation, other_bank: Organisation
) -> None:
    first = authority.seal_certificate(bank)
    assert authority.seal_certificate(bank) == first
    assert authority.seal_certificate(other_bank) != first

    IssuedCertificate.objects.filter(pk=first.pk).update(not_after=timezone.now() + datetime.timedelta(days=29))
    renewed = authority.seal_certificate(bank)
    assert renewed != first
    assert authority.seal_certificate(bank) == renewed

    authority.revoke(renewed, "superseded")
    replacement = authority.seal_certificate(bank)
    assert replacement not in (first, renewed)


def test_seal_certificate_without_credit_code_has_no_organization_identifier(authority: pki.Authority) -> None:
    centre = Organisation.objects.create(kind=Organisation.Kind.CENTRE, name="无代码调解中心")
    certificate = _cert(authority.seal_certificate(centre))
    assert certificate.subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER) == []


# --- revocation and CRLs -----------------------------------------------------------------------


def test_revoked_certificate_is_listed_on_a_crl_that_openssl_verifies(
    authority: pki.Authority, consumer: User, bank: Organisation, admin_user: User, tmp_path: Path
) -> None:
    kept = authority.issue_event_certificate(consumer)
    revoked = authority.seal_certificate(bank)
    authority.revoke(revoked, "keyCompromise", actor=admin_user)
    assert revoked.revoked_at is not None and revoked.revocation_reason == "keyCompromise"
    entry = LedgerEntry.objects.get(action="signing.certificate.revoked")
    assert entry.actor == admin_user and entry.data["serial"] == revoked.serial
    authority.revoke(revoked, "superseded")  # already revoked: nothing changes, no second entry
    assert LedgerEntry.objects.filter(action="signing.certificate.revoked").count() == 1

    crl_path = tmp_path / "issuing.crl"
    crl_path.write_bytes(authority.crl_der("issuing"))
    chain = tmp_path / "chain.pem"
    chain.write_bytes(authority.path("root.crt").read_bytes() + authority.path("issuing.crt").read_bytes())
    result = _openssl("crl", "-inform", "DER", "-in", crl_path, "-CAfile", chain, "-noout", "-text")
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    listed = set(re.findall(r"Serial Number: ([0-9A-F]+)", result.stdout))
    assert {s.lstrip("0") for s in listed} == {revoked.serial.lstrip("0")}
    assert kept.serial not in listed
    assert "Key Compromise" in result.stdout
    assert "X509v3 CRL Number" in result.stdout

    crl = x509.load_der_x509_crl(crl_path.read_bytes())
    assert crl.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert crl.next_update_utc is not None and crl.last_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == datetime.timedelta(days=7)
    later = x509.load_der_x509_crl(authority.crl_der("issuing"))
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number

    # OpenSSL's own path validation with CRL checking now refuses the seal and accepts the event certificate.
    crl_pem = tmp_path / "issuing.crl.pem"
    crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    root_crl = tmp_path / "root.crl.pem"
    root_crl.write_bytes(x509.load_der_x509_crl(authority.crl_der("root")).public_bytes(serialization.Encoding.PEM))

    def verify_with_crls(issued: IssuedCertificate) -> subprocess.CompletedProcess[str]:
        leaf = _pem(tmp_path / f"{issued.serial}.pem", bytes(issued.certificate_der))
        return _openssl(
            "verify",
            "-crl_check_all",
            "-CRLfile",
            crl_pem,
            "-CRLfile",
            root_crl,
            "-CAfile",
            authority.path("root.crt"),
            "-untrusted",
            authority.path("issuing.crt"),
            leaf,
        )

    refused = verify_with_crls(revoked)
    assert refused.returncode != 0 and "revoked" in refused.stdout + refused.stderr
    assert verify_with_crls(kept).returncode == 0


def test_root_crl_is_signed_by_the_root(authority: pki.Authority) -> None:
    crl = x509.load_der_x509_crl(authority.crl_der("root"))
    assert crl.issuer == authority.root.subject
    assert crl.is_signature_valid(authority.root.public_key())  # type: ignore[arg-type]
    assert len(list(crl)) == 0
    with pytest.raises(ValueError):
        authority.crl_der("tsa")


def test_revoke_refuses_reasons_this_ca_does_not_use(authority: pki.Authority, consumer: User) -> None:
    issued = authority.issue_event_certificate(consumer)
    with pytest.raises(ValueError):
        authority.revoke(issued, "certificateHold")
    with pytest.raises(ValueError):
        authority.revoke(issued, "because")
    issued.refresh_from_db()
    assert issued.revoked_at is None


def _validate(context: ValidationContext, issued: IssuedCertificate) -> Any:
    leaf = asn1_x509.Certificate.load(bytes(issued.certificate_der))
    validator = CertificateValidator(leaf, validation_context=context)
    return asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))


def test_validation_context_checks_our_crls_in_memory_and_trusts_only_our_root(
    authority: pki.Authority, consumer: User, bank: Organisation
) -> None:
    good = authority.issue_event_certificate(consumer)
    revoked = authority.seal_certificate(bank)
    authority.revoke(revoked, "keyCompromise")
    context = authority.validation_context()
    assert context.fetching_allowed is False
    assert {crl["tbs_cert_list"]["issuer"].dump() for crl in context.crls} == {
        authority.root_cert.subject.dump(),
        authority.issuing_cert.subject.dump(),
    }

    path = _validate(context, good)
    assert [cert.dump() for cert in path.iter_certs(include_root=True)][0] == authority.root_cert.dump()
    with pytest.raises(RevokedError):
        _validate(authority.validation_context(), revoked)

    # A certificate naming our issuing CA as issuer but signed by someone else's key is refused.
    forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(_cert(good).subject)
        .issuer_name(authority.issuing.subject)
        .public_key(forger_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(forger_key, hashes.SHA256())
    )
    forged_row = IssuedCertificate(certificate_der=forged.public_bytes(serialization.Encoding.DER))
    with pytest.raises(PathValidationError, match="could not be verified"):
        _validate(authority.validation_context(), forged_row)


# --- public endpoints ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("root.crt", "application/pkix-cert"),
        ("issuing.crt", "application/pkix-cert"),
        ("tsa.crt", "application/pkix-cert"),
        ("root.crl", "application/pkix-crl"),
        ("issuing.crl", "application/pkix-crl"),
    ],
)
def test_certificates_and_crls_are_public(authority: pki.Authority, name: str, content_type: str) -> None:
    response = Client().get(reverse("signing:pki_file", kwargs={"name": name}))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    if name.endswith(".crt"):
        served = x509.load_der_x509_certificate(response.content)
        assert served == {"root.crt": authority.root, "issuing.crt": authority.issuing, "tsa.crt": authority.tsa}[name]
    else:
        crl = x509.load_der_x509_crl(response.content)
        issuer = authority.root if name == "root.crl" else authority.issuing
        assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]


def test_other_pki_names_are_not_found_and_only_get_is_allowed(authority: pki.Authority) -> None:
    client = Client()
    for name in ("root.key", "tsa.key", ".lock", "issuing.pem", "root"):
        assert client.get(reverse("signing:pki_file", kwargs={"name": name})).status_code == 404
    assert client.post(reverse("signing:pki_file", kwargs={"name": "root.crt"})).status_code == 405


# --- init_pki ------------------------------------------------------------------------------------


def test_init_pki_creates_once_and_prints_the_root_fingerprint(tmp_path: Path, settings: Any, db: None) -> None:
    settings.SIGNING_PKI_DIR = tmp_path / "ca"
    out = StringIO()
    call_command("init_pki", stdout=out)
    first = out.getvalue()
    assert "created" in first and str(tmp_path / "ca") in first

    fingerprint = _openssl("x509", "-in", tmp_path / "ca" / "root.crt", "-noout", "-fingerprint", "-sha256").stdout
    expected = fingerprint.strip().split("=", 1)[1]
    assert expected in first
    assert str(tmp_path / "ca" / "tsa.crt") in first

    out = StringIO()
    call_command("init_pki", stdout=out)
    second = out.getvalue()
    assert "already present" in second and expected in second
    assert pki.authority().root.fingerprint(hashes.SHA256()).hex().upper() == expected.replace(":", "")


def test_init_pki_fails_clearly_with_the_wrong_passphrase(settings: Any, db: None) -> None:
    pki.authority()
    settings.SIGNING_KEY_PASSPHRASE = "a different passphrase"
    with pytest.raises(Exception, match="cannot be decrypted with SIGNING_KEY_PASSPHRASE"):
        call_command("init_pki", stdout=StringIO())
