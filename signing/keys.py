"""The one interface through which every signature is made.

``key_service()`` returns the configured :class:`KeyService` (``settings.SIGNING_KEY_SERVICE``). The built-in
:class:`LocalKeyService` signs with keys kept encrypted in ``IssuedCertificate`` rows; an external CA, an HSM
(pyHanko's ``PKCS11Signer``) or an SM2 signing service plugs in by implementing the same two methods.

Usage, for one signature::

    service = key_service()
    signer = service.signer_for(certificate)
    try:
        ...  # PdfSigner(..., signer=signer, ...).sign_pdf(...)
    finally:
        service.after_signing(certificate)  # an event certificate's key is gone afterwards
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing import pki
from signing.models import IssuedCertificate


class KeyService(Protocol):
    def signer_for(self, certificate: IssuedCertificate) -> Signer:
        """A pyHanko signer that signs with the private key of ``certificate``."""
        ...

    def after_signing(self, certificate: IssuedCertificate) -> None:
        """Called once the signature has been made (or has failed) with ``certificate``."""
        ...


class LoadedKeySigner(Signer):
    """Signs with an RSA key that is already loaded (PKCS#1 v1.5, i.e. sha256WithRSAEncryption).

    pyHanko's ``SimpleSigner`` re-parses and re-validates its key on every signature, twice per PDF
    signature (size estimate and real signature); this one returns placeholder bytes for the estimate.
    """

    def __init__(
        self,
        signing_cert: asn1_x509.Certificate,
        private_key: RSAPrivateKey,
        chain: Iterable[asn1_x509.Certificate] = (),
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs(list(chain)),
            prefer_pss=False,
            embed_roots=True,
        )
        self._private_key = private_key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes((self._private_key.key_size + 7) // 8)
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if mechanism.signature_algo != "rsassa_pkcs1v15":
            raise SigningError(f"LoadedKeySigner signs with RSA PKCS#1 v1.5 only, not {mechanism.signature_algo}")
        return self._private_key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


class LocalKeyService:
    """The built-in CA's keys: decrypted from the database for one signature, event keys destroyed after it."""

    def signer_for(self, certificate: IssuedCertificate) -> Signer:
        if certificate.revoked_at is not None:
            raise pki.PkiError(_("证书 %(serial)s 已被吊销，不能用于签名。") % {"serial": certificate.serial})
        if certificate.not_after <= timezone.now():
            raise pki.PkiError(_("证书 %(serial)s 已过期，不能用于签名。") % {"serial": certificate.serial})
        authority = pki.authority()
        return LoadedKeySigner(
            asn1_x509.Certificate.load(bytes(certificate.certificate_der)),
            pki.load_private_key(certificate),
            authority.chain,
        )

    def after_signing(self, certificate: IssuedCertificate) -> None:
        # An event certificate serves exactly one signature: once made, nobody (not even us) can sign again.
        if certificate.kind != IssuedCertificate.Kind.EVENT:
            return
        now = timezone.now()
        IssuedCertificate.objects.filter(pk=certificate.pk, key_destroyed_at__isnull=True).update(
            encrypted_key=b"", key_destroyed_at=now
        )
        certificate.refresh_from_db(fields=["encrypted_key", "key_destroyed_at"])


def key_service() -> KeyService:
    service: KeyService = import_string(settings.SIGNING_KEY_SERVICE)()
    return service
