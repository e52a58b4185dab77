"""Signing a document that is not the agreement: application forms, undertakings, records.

The same proof as an agreement signature (电子签名法 Art 13): the signer re-enters their
password and a one-time code sent for this document, then a one-signature event certificate
(a person) or the organisation's seal certificate (an institution, the centre, a court) signs
the PDF as a new incremental revision (PAdES B-T, timestamped by the TSA). What was seen, what
was signed, by which certificate, from where, is recorded in the ledger of the case, failures
included.

The caller owns the document: it passes the bytes the signer saw and stores what comes back
(compare-and-swap on its own row if two people sign the same file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.utils import translation

from mediation import ledger, otp
from mediation.ledger import sm3_hex
from mediation.models import Case, OneTimeCode, Organisation, User
from signing import pki
from signing.evidence import Origin
from signing.keys import key_service
from signing.models import IssuedCertificate
from signing.services import SigningError, sign_in_new_field


@dataclass(frozen=True)
class DocumentSignature:
    """A signed document and the evidence of its signature."""

    pdf: bytes
    field_name: str
    certificate_serial: str
    sha256_seen: str
    sha256: str
    sm3: str


def code_purpose(document: str) -> str:
    """The one-time-code purpose for signing ``document`` (a stable key chosen by the caller)."""
    return f"document:{document}"


def request_code(user: User, *, document: str, action: str) -> OneTimeCode:
    """Send ``user`` a one-time code for signing ``document``; ``action`` says what it is for."""
    try:
        return otp.send_code(user, purpose=code_purpose(document), action=action)
    except otp.CodeError as error:
        raise SigningError(error.code, error.message, field="code") from error


def _certificate(user: User, organisation: Organisation | None) -> IssuedCertificate:
    authority = pki.authority()
    if organisation is None:
        return authority.issue_event_certificate(user)
    return authority.seal_certificate(organisation)


def verify_signer(
    user: User,
    *,
    case: Case,
    document: str,
    password: str,
    code: str,
    origin: Origin = Origin(),  # noqa: B008
) -> None:
    """Password + the one-time code for ``document``, or :class:`SigningError` naming the field.

    Call it outside any transaction: a failed try is counted (and recorded in the ledger) even
    though the caller then refuses the request.
    """
    try:
        otp.check_code(user, purpose=code_purpose(document), code=code, password_ok=user.check_password(password or ""))
    except otp.CodeError as error:
        ledger.record(
            "signing.document.code_failed",
            actor=user,
            case=case,
            ip=origin.ip,
            data={"document": document, "reason": error.code},
        )
        raise SigningError(
            error.code, error.message, field="password" if error.code == "password" else "code"
        ) from error


def sign_verified(
    data: bytes,
    *,
    case: Case,
    user: User,
    document: str,
    field_name: str,
    reason: str,
    organisation: Organisation | None = None,
    origin: Origin = Origin(),  # noqa: B008 - immutable
    ledger_data: dict[str, Any] | None = None,
) -> DocumentSignature:
    """Sign ``data`` in a new field for a person :func:`verify_signer` has just verified.

    ``organisation``: sign with that organisation's seal certificate (the caller has checked
    that ``user`` may use it); otherwise with a one-signature certificate for ``user``.
    """
    seen = hashlib.sha256(data).hexdigest()
    certificate = _certificate(user, organisation)
    try:
        with translation.override("zh-hans"):
            signed = sign_in_new_field(data, field_name, certificate, reason=reason)
    finally:
        if organisation is None:
            key_service().after_signing(certificate)
    result = DocumentSignature(
        pdf=signed,
        field_name=field_name,
        certificate_serial=certificate.serial,
        sha256_seen=seen,
        sha256=hashlib.sha256(signed).hexdigest(),
        sm3=sm3_hex(signed),
    )
    ledger.record(
        "signing.document.signed",
        actor=user,
        case=case,
        ip=origin.ip,
        data={
            "document": document,
            "field": field_name,
            "sha256_seen": seen,
            **(ledger_data or {}),
            "sha256": result.sha256,
            "sm3": result.sm3,
            "certificate_serial": result.certificate_serial,
            "organisation": organisation.pk if organisation else None,
            "user_agent": origin.user_agent[:300],
            "otp_verified": True,
            "reauthenticated": True,
        },
    )
    return result


def sign_document(
    data: bytes,
    *,
    case: Case,
    user: User,
    document: str,
    field_name: str,
    reason: str,
    password: str,
    code: str,
    organisation: Organisation | None = None,
    origin: Origin = Origin(),  # noqa: B008 - immutable
    ledger_data: dict[str, Any] | None = None,
) -> DocumentSignature:
    """:func:`verify_signer`, then :func:`sign_verified`: a wrong password or code signs nothing."""
    verify_signer(user, case=case, document=document, password=password, code=code, origin=origin)
    return sign_verified(
        data,
        case=case,
        user=user,
        document=document,
        field_name=field_name,
        reason=reason,
        organisation=organisation,
        origin=origin,
        ledger_data=ledger_data,
    )
