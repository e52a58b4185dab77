"""A case ready for judicial confirmation, its court and clerk, and the application's documents."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from judicial_link import preflight
from judicial_link.package import PackageFile
from mediation import audience
from mediation.models import Case, Organisation, Role, User
from signing import pki
from signing import services as signing_services
from signing.keys import key_service
from signing.models import Agreement
from tests import factories
from tests.signing_helpers import prepared_agreement, sign_as


def effective_case(case: Case, people: dict[str, User], capture: Any) -> Case:
    """``case`` (mediating) with its agreement signed by everyone and the consumer's identity verified."""
    agreement = prepared_agreement(case, people["mediator"])
    for role in ("consumer", "bank_agent", "mediator", "case_manager"):
        sign_as(Agreement.objects.get(pk=agreement.pk), people[role], capture)
    consumer = people["consumer"]
    consumer.identity_verified_at = timezone.now()
    consumer.save(update_fields=["identity_verified_at"])
    case.refresh_from_db()
    return case


def basic_court(name: str, region: str, code: str) -> Organisation:
    court = factories.organisation(Organisation.Kind.COURT, name, region=region)
    court.court_level = "basic"
    court.court_code = code
    court.save()
    return court


def clerk_of(court: Organisation, username: str) -> User:
    return factories.user(username, Role.COURT_CLERK, court, real_name=f"{username}书记员")


def signed_by(user: User) -> bytes:
    """A small PDF with one PAdES signature by ``user`` (an event certificate from the built-in CA)."""
    certificate = pki.authority().issue_event_certificate(user)
    try:
        return signing_services.sign_in_new_field(
            factories.sample_pdf_bytes(), "applicant", certificate, reason="申请司法确认"
        )
    finally:
        key_service().after_signing(certificate)


def sealed_by(organisation: Organisation) -> bytes:
    """A small PDF sealed with ``organisation``'s seal certificate."""
    certificate = pki.authority().seal_certificate(organisation)
    return signing_services.sign_in_new_field(factories.sample_pdf_bytes(), "seal", certificate, reason="承诺书")


def application_documents(case: Case, signer: User | None = None) -> list[PackageFile]:
    """One PDF per document the application must carry (the platform derives the others); the
    application form is signed (by ``signer``, default the first consumer), each undertaking by its
    party, the others are scans."""
    files = []
    for document in preflight.required_documents(case):
        if document.derived:
            continue
        safe = document.code.replace(":", "-")
        if document.code == preflight.APPLICATION_FORM:
            content = signed_by(signer or audience.consumers(case)[0])
        elif document.code == preflight.INSTITUTION_UNDERTAKING:
            content = sealed_by(case.institution)
        elif document.code.startswith("undertaking:consumer:"):
            content = signed_by(User.objects.get(pk=int(document.code.rsplit(":", 1)[1])))
        else:
            content = factories.sample_pdf_bytes()
        files.append(
            PackageFile(path=f"application/{safe}.pdf", doc_type=document.code, title=document.label, content=content)
        )
    return files
