"""The demo's applications: one sent to the demo court with its package, one accepted and confirmed.

Everything goes through the same services as a real application. What the demo cannot do for
real — a person typing one-time codes, an institution scanning its business licence — is
replaced by a signature made directly with the person's event certificate and by pages marked
【演示】 standing in for the scans.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils import timezone

from judicial_link import application, preflight, services, termination
from judicial_link.models import ConfirmationApplication
from judicial_link.package import PackageFile
from judicial_link.venue import VenueFacts
from mediation import audience
from mediation.models import Case, Organisation, User
from signing import pki
from signing import services as signing_services
from signing.keys import key_service
from signing.models import Agreement
from signing.render import render_pdf


def _signed(pdf: bytes, field: str, signer: User | Organisation) -> bytes:
    """A signature made directly with the person's event certificate or the organisation's seal."""
    authority = pki.authority()
    if isinstance(signer, Organisation):
        return signing_services.sign_in_new_field(pdf, field, authority.seal_certificate(signer), reason="申请司法确认")
    event = authority.issue_event_certificate(signer)
    try:
        return signing_services.sign_in_new_field(pdf, field, event, reason="申请司法确认")
    finally:
        key_service().after_signing(event)


def _stand_in(title: str, case: Case) -> bytes:
    """A page standing in for a scanned document the demo does not have."""
    now = timezone.now()
    context = {"title": title, "case": case, "created_w3c": now.isoformat(), "modified_w3c": now.isoformat()}
    identifier = hashlib.sha256(f"stand-in:{case.pk}:{title}".encode()).hexdigest()[:32]
    return render_pdf("judicial_link/pdf/stand_in.html", context, identifier=identifier)


def apply_for_demo(sender: object, case: Case, users: dict[str, User], court: Organisation, **kwargs: Any) -> bool:
    agreement = Agreement.objects.filter(case=case, state=Agreement.State.EFFECTIVE).first()
    if agreement is None:
        return False
    consumer = audience.consumers(case)[0]
    documents = []
    for document in preflight.required_documents(case):
        if document.derived:
            continue
        if document.code == preflight.APPLICATION_FORM:
            form = application.render_application_form(case, court)
            form = _signed(form, f"applicant-consumer-{consumer.pk}", consumer)
            content = _signed(form, "applicant-institution", case.institution)
        elif document.code == preflight.consumer_undertaking(consumer):
            undertaking = application.render_undertaking(case, application.consumer_key(consumer))
            content = _signed(undertaking, "undertaking", consumer)
        elif document.code == preflight.INSTITUTION_UNDERTAKING:
            undertaking = application.render_undertaking(case, application.INSTITUTION)
            content = _signed(undertaking, "undertaking", case.institution)
        else:
            content = _stand_in(str(document.label), case)
        path = "application/" + document.code.replace(":", "-") + ".pdf"
        documents.append(PackageFile(path=path, doc_type=document.code, title=str(document.label), content=content))
    # The demo's consumers live in the court's district (there is no domicile on accounts yet).
    facts = VenueFacts(consumer_domiciles={consumer.pk: court.region})
    services.submit_application(case, actor=consumer, court=court, documents=documents, facts=facts)
    return True


def confirm_for_demo(sender: object, case: Case, users: dict[str, User], **kwargs: Any) -> bool:
    application = ConfirmationApplication.objects.filter(
        case=case, state=ConfirmationApplication.State.SUBMITTED
    ).first()
    if application is None:
        return False
    clerk = users["demo_court_clerk"]
    services.check_integrity(application)
    year = timezone.localdate().year
    services.accept(application, clerk=clerk, court_case_number=f"（{year}）粤0106民特{case.pk}号")
    services.rule(application, clerk=clerk, confirmed=True, reasons="")
    return True


def record_termination_for_demo(sender: object, case: Case, users: dict[str, User], **kwargs: Any) -> bool:
    """The mediator's termination record, signed with their certificate (no code typed) and sealed,
    then the referral package, built by the consumer."""
    mediator = users["demo_mediator"]
    texts = termination.proposed_text(case)
    texts["undisputed_facts"] = "双方确认投诉所述交易真实发生，争议在于被投诉机构应否承担责任及承担多少。"
    record = termination.save_draft(case, actor=mediator, texts=texts)
    pdf = termination.render_record(record)
    event = pki.authority().issue_event_certificate(mediator)
    try:
        signed = signing_services.sign_in_new_field(
            pdf, termination.MEDIATOR_FIELD, event, reason="调解员签署调解终结记录"
        )
    finally:
        key_service().after_signing(event)
    termination.store_signed_record(
        record,
        unsigned=pdf,
        signed=termination.seal(signed, case),
        signer=mediator,
        seen_hash=termination.content_hash(record),
        certificate_serial=event.serial,
        evidence={"verification": "demo-data"},
    )
    termination.build_referral(case, actor=audience.consumers(case)[0])
    return True
