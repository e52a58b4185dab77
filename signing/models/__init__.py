"""Agreements (drafts, versions, comments), their PDF revisions and signatures, and the built-in PKI."""

from signing.models.drafting import Agreement, AgreementVersion, DisputeTemplate, VersionComment
from signing.models.pki import IssuedCertificate
from signing.models.signatures import PdfRevision, SignatureSlot, SigningEvent

__all__ = [
    "Agreement",
    "AgreementVersion",
    "DisputeTemplate",
    "IssuedCertificate",
    "PdfRevision",
    "SignatureSlot",
    "SigningEvent",
    "VersionComment",
]
