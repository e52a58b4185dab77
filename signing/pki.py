"""The built-in certificate authority: root CA, issuing CA, time-stamping certificate, leaf certificates, CRLs.

Layout on disk (``settings.SIGNING_PKI_DIR``, never in git, directory 0700, files 0600)::

    root.crt     root.key       self-signed root, RSA 3072, 20 years
    issuing.crt  issuing.key    issuing CA signed by the root (pathlen 0), RSA 3072, 10 years
    tsa.crt      tsa.key        RFC 3161 time-stamping certificate from the issuing CA, RSA 2048, 5 years
    .lock                       flock target serialising first-run generation between processes

Certificates are PEM, keys PKCS#8 encrypted with ``settings.SIGNING_KEY_PASSPHRASE``. Every file is written
to a temporary name and renamed, key before certificate, so a certificate on disk always has its key.

Leaf certificates (event certificates for one signature by a person, seal certificates for organisations)
are stored in ``IssuedCertificate`` rows together with their encrypted key. The issuing CA's CRL lists the
revoked rows; the root's CRL covers the issuing CA. Both CRLs are signed afresh on every request and handed
to pyHanko in memory: no validation ever fetches anything over the network.

Every key is RSA with sha256WithRSAEncryption: ECDSA would bump signed PDFs to version 2.0 (PDF/A-3 breaks).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from pyhanko_certvalidator import ValidationContext

from mediation import ledger
from mediation.models import Organisation, User
from signing.files import write_atomically
from signing.models import IssuedCertificate

CA_KEY_BITS = 3072
LEAF_KEY_BITS = 2048
ROOT_YEARS = 20
ISSUING_YEARS = 10
TSA_YEARS = 5
SEAL_DAYS = 365
# A seal certificate with less time than this left is replaced rather than reused.
SEAL_REUSE_MIN_DAYS = 30
CRL_VALIDITY = datetime.timedelta(days=7)
# Event certificates start a minute in the past so a verifier whose clock runs slightly behind accepts them.
CLOCK_SKEW = datetime.timedelta(minutes=1)

# ETSI EN 319 412-1 organizationIdentifier; cryptography has no NameOID constant for it.
ORGANIZATION_IDENTIFIER = ObjectIdentifier("2.5.4.97")

CA_ORGANISATION = "Fengqiao"
ROOT_NAME = "Fengqiao Root CA"
ISSUING_NAME = "Fengqiao Issuing CA"
TSA_NAME = "Fengqiao Time-Stamping Authority"

CRL_KINDS = ("root", "issuing")


class PkiError(Exception):
    """A certificate or key cannot be used; the message says why in words a person can read."""


class KeyDestroyedError(PkiError):
    pass


# --- files -----------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers never see half a file; keys and certificates stay private to the service account."""
    write_atomically(path, lambda handle: handle.write(data), mode=0o600)


@contextmanager
def _exclusive_lock(directory: Path) -> Iterator[None]:
    """Serialise generation between processes (pytest-xdist workers, several Daphne processes)."""
    with open(directory / ".lock", "a+b") as handle:
        os.chmod(directory / ".lock", 0o600)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _encrypt_key(key: rsa.RSAPrivateKey, passphrase: bytes, encoding: serialization.Encoding) -> bytes:
    return key.private_bytes(
        encoding, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(passphrase)
    )


def _decrypt_key(data: bytes, passphrase: bytes) -> rsa.RSAPrivateKey:
    if data.lstrip().startswith(b"-----"):
        key = serialization.load_pem_private_key(data, password=passphrase)
    else:
        key = serialization.load_der_private_key(data, password=passphrase)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(_("私钥不是 RSA 密钥。"))
    return key


def _passphrase() -> bytes:
    return str(settings.SIGNING_KEY_PASSPHRASE).encode()


# --- certificate building --------------------------------------------------------------------


def _name(*attributes: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _ca_name(common_name: str) -> x509.Name:
    return _name(
        (NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, CA_ORGANISATION), (NameOID.COMMON_NAME, common_name)
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _builder(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate | None,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    return builder


def _publication_extensions(builder: x509.CertificateBuilder, base_url: str, issuer: str) -> x509.CertificateBuilder:
    """Where relying parties find the issuer's CRL and certificate (served by signing.views_pki)."""
    return builder.add_extension(
        x509.CRLDistributionPoints(
            [
                x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(f"{base_url}/pki/{issuer}.crl")],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
            ]
        ),
        critical=False,
    ).add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(f"{base_url}/pki/{issuer}.crt"),
                )
            ]
        ),
        critical=False,
    )


def _key_usage(*, signing: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _make_root(now: datetime.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
    builder = (
        _builder(_ca_name(ROOT_NAME), key.public_key(), None, now, now + datetime.timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    return key, builder.sign(key, hashes.SHA256())


def _make_issuing(
    now: datetime.datetime, root_key: rsa.RSAPrivateKey, root: x509.Certificate, base_url: str
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
    builder = (
        _builder(
            _ca_name(ISSUING_NAME), key.public_key(), root, now, now + datetime.timedelta(days=365 * ISSUING_YEARS)
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    return key, _publication_extensions(builder, base_url, "root").sign(root_key, hashes.SHA256())


def _make_tsa(
    now: datetime.datetime, issuing_key: rsa.RSAPrivateKey, issuing: x509.Certificate, base_url: str
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=LEAF_KEY_BITS)
    builder = (
        _builder(_ca_name(TSA_NAME), key.public_key(), issuing, now, now + datetime.timedelta(days=365 * TSA_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        # RFC 3161 §2.3: the TSA certificate carries exactly this EKU, marked critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    )
    return key, _publication_extensions(builder, base_url, "issuing").sign(issuing_key, hashes.SHA256())


# --- the authority ---------------------------------------------------------------------------


@dataclass
class Authority:
    """The loaded CA. Obtain it through :func:`authority`; it is cached per process and directory."""

    directory: Path
    base_url: str
    root: x509.Certificate
    issuing: x509.Certificate
    tsa: x509.Certificate
    root_key: rsa.RSAPrivateKey = field(repr=False)
    issuing_key: rsa.RSAPrivateKey = field(repr=False)
    tsa_key: rsa.RSAPrivateKey = field(repr=False)
    # Whether loading generated at least part of the CA (in exactly one of several racing processes).
    created: bool = False

    def __post_init__(self) -> None:
        self.root_cert = asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))
        self.issuing_cert = asn1_x509.Certificate.load(self.issuing.public_bytes(serialization.Encoding.DER))
        self.tsa_cert = asn1_x509.Certificate.load(self.tsa.public_bytes(serialization.Encoding.DER))

    @property
    def root_fingerprint(self) -> str:
        """SHA-256 of the root certificate, colon-separated upper-case hex (as ``openssl x509 -fingerprint``)."""
        digest = self.root.fingerprint(hashes.SHA256()).hex().upper()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    def path(self, name: str) -> Path:
        return self.directory / name

    def certificate_der(self, which: str) -> bytes:
        certificates = {"root": self.root, "issuing": self.issuing, "tsa": self.tsa}
        return certificates[which].public_bytes(serialization.Encoding.DER)

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        """The certificates above a leaf, issuing CA first."""
        return [self.issuing_cert, self.root_cert]

    # --- leaf certificates -------------------------------------------------------------------

    def issue_event_certificate(self, user: User) -> IssuedCertificate:
        """A fresh key and a short-lived certificate for exactly one signature by ``user``.

        The caller has re-authenticated the person (password and one-time code) just before; the key is
        destroyed by the key service right after the signature (电子签名法 Art 13: signer-exclusive data).
        """
        now = _now()
        minutes = int(settings.SIGNING_EVENT_CERT_MINUTES)
        not_before = now - CLOCK_SKEW
        not_after = now + datetime.timedelta(minutes=minutes)
        subject = _name(
            (NameOID.COUNTRY_NAME, "CN"),
            (NameOID.COMMON_NAME, user.real_name or user.get_username()),
            (NameOID.SERIAL_NUMBER, subject_serial_number(user)),
        )
        return self._issue_leaf(
            IssuedCertificate.Kind.EVENT, subject, not_before, not_after, user=user, organisation=None
        )

    def seal_certificate(self, organisation: Organisation) -> IssuedCertificate:
        """The organisation's seal certificate: an unrevoked one with more than 30 days left, or a new one."""
        with transaction.atomic():
            # Two people sealing for the same organisation at once must not mint two certificates.
            Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
            reusable = (
                IssuedCertificate.objects.filter(
                    kind=IssuedCertificate.Kind.SEAL,
                    organisation=organisation,
                    revoked_at__isnull=True,
                    key_destroyed_at__isnull=True,
                    not_after__gt=timezone.now() + datetime.timedelta(days=SEAL_REUSE_MIN_DAYS),
                )
                .order_by("-not_after")
                .first()
            )
            if reusable is not None:
                return reusable
            attributes: list[tuple[ObjectIdentifier, str]] = [
                (NameOID.COUNTRY_NAME, "CN"),
                (NameOID.ORGANIZATION_NAME, organisation.name),
            ]
            if organisation.credit_code:
                attributes.append((ORGANIZATION_IDENTIFIER, organisation.credit_code))
            attributes.append((NameOID.COMMON_NAME, f"{organisation.name}电子印章"))
            now = _now()
            return self._issue_leaf(
                IssuedCertificate.Kind.SEAL,
                _name(*attributes),
                now - CLOCK_SKEW,
                now + datetime.timedelta(days=SEAL_DAYS),
                user=None,
                organisation=organisation,
            )

    def _issue_leaf(
        self,
        kind: str,
        subject: x509.Name,
        not_before: datetime.datetime,
        not_after: datetime.datetime,
        *,
        user: User | None,
        organisation: Organisation | None,
    ) -> IssuedCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=LEAF_KEY_BITS)
        builder = (
            _builder(subject, key.public_key(), self.issuing, not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
        )
        certificate = _publication_extensions(builder, self.base_url, "issuing").sign(self.issuing_key, hashes.SHA256())
        return IssuedCertificate.objects.create(
            kind=kind,
            serial=format(certificate.serial_number, "X"),
            subject=certificate.subject.rfc4514_string()[:400],
            user=user,
            organisation=organisation,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            certificate_der=certificate.public_bytes(serialization.Encoding.DER),
            encrypted_key=_encrypt_key(key, _passphrase(), serialization.Encoding.DER),
        )

    # --- revocation ----------------------------------------------------------------------------

    def revoke(self, certificate: IssuedCertificate, reason: str = "unspecified", *, actor: User | None = None) -> None:
        """Put the certificate on the issuing CA's CRL. ``reason`` is an RFC 5280 CRLReason (``keyCompromise``).

        Revocation is permanent: this CA never uses certificateHold, which is what lets validation at a past
        moment trust CRLs issued after it (see :meth:`validation_context`).
        """
        flag = x509.ReasonFlags(reason)
        if flag in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl):
            raise ValueError(f"{reason} is not used by this CA: revocation is permanent")
        with transaction.atomic():
            updated = IssuedCertificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revocation_reason=flag.value
            )
            if updated:
                ledger.record(
                    "signing.certificate.revoked",
                    actor=actor,
                    data={"serial": certificate.serial, "kind": certificate.kind, "reason": flag.value},
                )
        certificate.refresh_from_db(fields=["revoked_at", "revocation_reason"])

    def crl_der(self, which: str) -> bytes:
        """A freshly signed CRL: ``root`` covers the issuing CA, ``issuing`` the certificates it issued
        (event, seal and the TSA certificate). nextUpdate is a week ahead."""
        if which not in CRL_KINDS:
            raise ValueError(f"unknown CRL {which!r}; expected one of {CRL_KINDS}")
        now = _now()
        issuer, key = (self.root, self.root_key) if which == "root" else (self.issuing, self.issuing_key)
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.subject)
            .last_update(now)
            .next_update(now + CRL_VALIDITY)
            # Microseconds since the epoch: increases across processes without shared state.
            .add_extension(x509.CRLNumber(int(now.timestamp() * 1_000_000)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        )
        if which == "issuing":
            revoked = IssuedCertificate.objects.filter(revoked_at__isnull=False).only(
                "serial", "revoked_at", "revocation_reason"
            )
            for row in revoked:
                entry = x509.RevokedCertificateBuilder().serial_number(int(row.serial, 16))
                entry = entry.revocation_date(row.revoked_at or now)
                if row.revocation_reason and row.revocation_reason != x509.ReasonFlags.unspecified.value:
                    reason = x509.ReasonFlags(row.revocation_reason)
                    entry = entry.add_extension(x509.CRLReason(reason), critical=False)
                builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # --- validation ----------------------------------------------------------------------------

    def validation_context(
        self,
        moment: datetime.datetime | None = None,
        *,
        crls: Iterable[bytes | asn1_crl.CertificateList] = (),
        other_certs: Iterable[asn1_x509.Certificate] = (),
    ) -> ValidationContext:
        """Trust our root only, with both CRLs in memory and no network fetching.

        Used for signing (``embed_validation_info=True`` puts exactly these CRLs into the DSS) and for
        verification. Revocation mode is ``require``: every certificate below the root must be covered by
        a CRL, and a missing or unusable CRL fails validation instead of passing silently; we can always
        supply ours, so nothing legitimate fails.

        ``moment``: validate as of that time instead of now. An event certificate expires minutes after its
        signature, so verifying later means validating at the signature's timestamp time (the TSA
        certificate, valid for years, vouches for that time). pyHanko's ``validate_pdf_signature`` does
        not do this by itself: with a context for "now" it reports an expired signer as untrusted.
        ``retroactive_revinfo`` lets the CRLs signed now speak for that earlier moment; that is sound
        because revocation here is permanent and each entry carries its revocation date, so a
        certificate revoked after the signature still validates at the signature's time.
        """
        return ValidationContext(
            trust_roots=[self.root_cert],
            other_certs=[self.issuing_cert, self.tsa_cert, *other_certs],
            crls=[self.crl_der("root"), self.crl_der("issuing"), *crls],
            allow_fetching=False,
            revocation_mode="require",
            retroactive_revinfo=True,
            moment=moment,
        )


def subject_serial_number(user: User) -> str:
    """Stable per person, never the ID number: a keyed hash of the identity's look-up digest.

    ``id_number_digest`` is itself an HMAC of the resident ID number (mediation.identity); hashing it
    again under the signing passphrase keeps certificates from being joined to database rows. People
    without a verified ID number on file (staff) are identified by their account instead.
    """
    identity = f"id:{user.id_number_digest}" if user.id_number_digest else f"user:{user.pk}"
    digest = salted_hmac(
        "fengqiao.signing.subject-serial", identity, secret=str(settings.SIGNING_KEY_PASSPHRASE), algorithm="sha256"
    )
    return "FQ" + digest.hexdigest()[:32].upper()


def load_private_key(certificate: IssuedCertificate) -> rsa.RSAPrivateKey:
    """Decrypt the key of an issued certificate; :class:`KeyDestroyedError` once it has been destroyed."""
    data = bytes(certificate.encrypted_key or b"")
    if certificate.key_destroyed_at is not None or not data:
        raise KeyDestroyedError(_("证书 %(serial)s 的私钥已销毁，不能再用于签名。") % {"serial": certificate.serial})
    try:
        return _decrypt_key(data, _passphrase())
    except ValueError as error:
        raise PkiError(_("证书 %(serial)s 的私钥无法解密。") % {"serial": certificate.serial}) from error


# --- loading and first-run generation --------------------------------------------------------

_FILES = ("root", "issuing", "tsa")
_cache: dict[tuple[str, str], Authority] = {}
_cache_lock = threading.Lock()


def authority() -> Authority:
    """The built-in CA for ``settings.SIGNING_PKI_DIR``, generated there on first use, then cached per process."""
    cached = _cache.get(_cache_key())
    return cached if cached is not None else initialise()


def initialise() -> Authority:
    """Load the CA from disk (generating what is missing) and refresh the process cache.

    Unlike :func:`authority`, ``created`` on the result tells whether *this* call generated anything.
    """
    key = _cache_key()
    with _cache_lock:
        loaded = _cache[key] = load_or_create(Path(settings.SIGNING_PKI_DIR), _passphrase(), settings.PUBLIC_BASE_URL)
    return loaded


def _cache_key() -> tuple[str, str]:
    # Tests point SIGNING_PKI_DIR elsewhere; a changed passphrase must not be served from the old cache.
    directory = Path(settings.SIGNING_PKI_DIR).resolve()
    return str(directory), hashlib.sha256(_passphrase()).hexdigest()


def load_or_create(directory: Path, passphrase: bytes, base_url: str) -> Authority:
    """Load the CA files from ``directory``, generating whatever is missing under an exclusive file lock.

    A certificate is written only after its key, so a certificate present means a complete pair. When a
    level is (re)generated, the levels below it are too: they must be signed by the new key.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        os.chmod(directory, 0o700)
    base_url = base_url.rstrip("/")
    if all((directory / f"{name}.crt").exists() for name in _FILES):
        # The common case after the first run: no lock, files are only ever replaced atomically. A
        # mismatch means another process is regenerating a level right now: wait for it under the lock.
        try:
            return _load(directory, passphrase, base_url, created=False)
        except PkiError:
            pass
    with _exclusive_lock(directory):
        now = _now()
        created = False
        loaded: dict[str, tuple[rsa.RSAPrivateKey, x509.Certificate]] = {}
        for name in _FILES:
            cert_path = directory / f"{name}.crt"
            if cert_path.exists() and not created:
                loaded[name] = _load_pair(directory, name, passphrase)
                if name != "root":
                    _check_issued_by(loaded[name][1], loaded[_FILES[_FILES.index(name) - 1]][1], name)
                continue
            created = True
            if name == "root":
                pair = _make_root(now)
            elif name == "issuing":
                pair = _make_issuing(now, *loaded["root"], base_url)
            else:
                pair = _make_tsa(now, *loaded["issuing"], base_url)
            key, certificate = pair
            _write_atomic(directory / f"{name}.key", _encrypt_key(key, passphrase, serialization.Encoding.PEM))
            _write_atomic(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
            loaded[name] = pair
    return _authority(directory, base_url, loaded, created=created)


def _authority(
    directory: Path, base_url: str, pairs: dict[str, tuple[rsa.RSAPrivateKey, x509.Certificate]], *, created: bool
) -> Authority:
    return Authority(
        directory=directory,
        base_url=base_url,
        root=pairs["root"][1],
        issuing=pairs["issuing"][1],
        tsa=pairs["tsa"][1],
        root_key=pairs["root"][0],
        issuing_key=pairs["issuing"][0],
        tsa_key=pairs["tsa"][0],
        created=created,
    )


def _load_pair(directory: Path, name: str, passphrase: bytes) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    certificate = x509.load_pem_x509_certificate((directory / f"{name}.crt").read_bytes())
    key_path = directory / f"{name}.key"
    if not key_path.exists():
        raise PkiError(f"{key_path} is missing but {name}.crt exists; restore the key or remove {directory}")
    try:
        key = _decrypt_key(key_path.read_bytes(), passphrase)
    except ValueError as error:
        raise PkiError(f"{key_path} cannot be decrypted with SIGNING_KEY_PASSPHRASE") from error
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise PkiError(f"{key_path} does not belong to {name}.crt")
    return key, certificate


def _public_der(public_key: object) -> bytes:
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise PkiError("every key of this CA is RSA")
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_issued_by(child: x509.Certificate, parent: x509.Certificate, name: str) -> None:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as error:
        raise PkiError(
            f"{name}.crt was not issued by the certificate above it; the CA directory is inconsistent"
        ) from error


def _load(directory: Path, passphrase: bytes, base_url: str, *, created: bool) -> Authority:
    pairs = {name: _load_pair(directory, name, passphrase) for name in _FILES}
    _check_issued_by(pairs["issuing"][1], pairs["root"][1], "issuing")
    _check_issued_by(pairs["tsa"][1], pairs["issuing"][1], "tsa")
    return _authority(directory, base_url, pairs, created=created)
