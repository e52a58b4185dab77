"""The built-in RFC 3161 time-stamping authority, and the choice between it and an external TSA.

Every signature is at least PAdES B-T, so every signature asks a TSA for a token. The built-in authority
signs with the TSA key of ``signing.pki`` and is served at ``/tsa/`` (``signing.views_pki``) for other
clients; our own signing calls it in-process. ``settings.SIGNING_TSA_URL`` switches to an external TSA.

Tokens carry:
- policy :data:`TSA_POLICY_OID`, an OID under the UUID arc ``2.25`` (ITU-T X.667), which needs no
  registration and cannot collide; it names "Fengqiao built-in TSA, clock = the server's system clock
  (NTP-disciplined by the operator), accuracy one second";
- a random 128-bit serial number, the requester's nonce, accuracy 1 s;
- the ESS signing-certificate-v2 attribute (SHA-256 of the TSA certificate, RFC 5816) and the
  CMS algorithm-protection attribute (RFC 6211);
- the TSA certificate and the issuing CA's certificate when the request sets certReq, none otherwise.

Requests that cannot be honoured get a ``rejection`` with failInfo: badAlg (hash not SHA-2/256+),
badDataFormat (not a TimeStampReq), badRequest (imprint length wrong for its hash, wrong version),
unacceptedPolicy (a reqPolicy other than ours), unacceptedExtension (any extension).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from django.conf import settings
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from signing import pki

TSA_POLICY_OID = "2.25.18383960487466591056950320743565068494"
# Hash algorithms accepted in a message imprint, with their digest length in bytes.
ACCEPTED_IMPRINT_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}
# The view refuses larger bodies; a real request is about 60 bytes.
MAX_REQUEST_BYTES = 16 * 1024


class _Rejection(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


class TimeStampResponse(tsp.TimeStampResp):
    """RFC 3161 ``TimeStampResp``; asn1crypto 1.5 wrongly makes the token mandatory, so rejections fail to dump."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _rejection_response(fail_info: str, text: str) -> TimeStampResponse:
    return TimeStampResponse(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            )
        }
    )


class TimeStampAuthority(TimeStamper):
    """Our TSA, usable as pyHanko's timestamper in-process and behind the ``/tsa/`` view."""

    def __init__(self, authority: pki.Authority | None = None) -> None:
        super().__init__(include_nonce=True)
        self.authority = authority or pki.authority()

    def respond(self, request_der: bytes) -> bytes:
        """DER TimeStampResp for a DER TimeStampReq; malformed requests get a rejection, never an exception."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            # asn1crypto parses lazily: walk the whole structure now so garbage is caught here.
            request.native  # noqa: B018
        except Exception:  # asn1crypto raises ValueError, TypeError, KeyError… on malformed input
            return _rejection_response("bad_data_format", "request is not a DER TimeStampReq").dump()
        return self.request_tsa_response(request).dump()

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            self._check(req)
        except _Rejection as rejection:
            return _rejection_response(rejection.fail_info, rejection.text)
        token = self._token(req, self._now())
        return TimeStampResponse({"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token})

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        # One RSA signature, no I/O: nothing to await.
        return self.request_tsa_response(req)

    @staticmethod
    def _now() -> datetime.datetime:
        now = datetime.datetime.now(datetime.UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    @staticmethod
    def _check(req: tsp.TimeStampReq) -> None:
        if req["version"].native != "v1":
            raise _Rejection("bad_request", "only version 1 requests are supported")
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in ACCEPTED_IMPRINT_HASHES:
            raise _Rejection("bad_alg", f"hash algorithm {algorithm} is not accepted; use SHA-256 or stronger")
        if len(imprint["hashed_message"].native) != ACCEPTED_IMPRINT_HASHES[algorithm]:
            raise _Rejection("bad_request", f"message imprint length does not match {algorithm}")
        policy = req["req_policy"].native
        if policy is not None and policy != TSA_POLICY_OID:
            raise _Rejection("unaccepted_policy", f"this TSA only issues tokens under policy {TSA_POLICY_OID}")
        if req["extensions"].native:
            raise _Rejection("unaccepted_extensions", "request extensions are not supported")

    def _token(self, req: tsp.TimeStampReq, gen_time: datetime.datetime) -> cms.ContentInfo:
        authority = self.authority
        tst_info: dict[str, object] = {
            "version": "v1",
            "policy": TSA_POLICY_OID,
            "message_imprint": req["message_imprint"],
            "serial_number": secrets.randbits(128) or 1,
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=authority.tsa_cert.subject),
        }
        if req["nonce"].native is not None:
            tst_info["nonce"] = req["nonce"]
        content = tsp.TSTInfo(tst_info).dump()

        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("message_digest", hashlib.sha256(content).digest()),
                _attribute("signing_certificate_v2", _signing_certificate_v2(authority.tsa_cert)),
                _attribute(
                    "cms_algorithm_protection",
                    cms.CMSAlgorithmProtection(
                        {"digest_algorithm": digest_algorithm, "signature_algorithm": signature_algorithm}
                    ),
                ),
            ]
        )
        signature = authority.tsa_key.sign(signed_attrs.dump(), PKCS1v15(), hashes.SHA256())
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {
                                "issuer": authority.tsa_cert.issuer,
                                "serial_number": authority.tsa_cert.serial_number,
                            }
                        )
                    }
                ),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": signature_algorithm,
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(content)},
            "signer_infos": [signer_info],
        }
        if req["cert_req"].native:
            signed_data["certificates"] = [authority.tsa_cert, authority.issuing_cert]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": cms.CMSAttributeType(kind), "values": (value,)})


def _signing_certificate_v2(certificate: asn1_x509.Certificate) -> tsp.SigningCertificateV2:
    # ESSCertIDv2's hashAlgorithm defaults to SHA-256 and is omitted (DER leaves out default values).
    return tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "cert_hash": hashlib.sha256(certificate.dump()).digest(),
                    "issuer_serial": {
                        "issuer": [asn1_x509.GeneralName(name="directory_name", value=certificate.issuer)],
                        "serial_number": certificate.serial_number,
                    },
                }
            ]
        }
    )


class ExternalTimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP client, reading replies with :class:`TimeStampResponse`.

    With asn1crypto's own class a TSA's rejection (a reply without a token) surfaces as an opaque
    ``ValueError`` while parsing; this way it is pyHanko's ``TimestampRequestError`` naming the failInfo.
    """

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = await super().async_request_tsa_response(req)
        return TimeStampResponse.load(response.dump())


def timestamper() -> TimeStamper:
    """The built-in TSA in-process (no HTTP round trip to ourselves), or ``SIGNING_TSA_URL`` when set.

    pyHanko's ``HTTPTimeStamper`` is aiohttp-based and opens a session per request, so it works from
    synchronous code too: ``PdfSigner.sign_pdf`` runs the signing coroutine in its own event loop.
    """
    url = getattr(settings, "SIGNING_TSA_URL", "")
    if url:
        return ExternalTimeStamper(url, timeout=getattr(settings, "SIGNING_TSA_TIMEOUT_SECONDS", 10))
    return TimeStampAuthority()
