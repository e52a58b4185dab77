"""Walk every URL of the project as every persona against a case they are not on.

The walk reads the URL configuration itself, so a view added tomorrow is walked tomorrow:
- a URL with an object in its path must answer 404 to every persona not on that object's case
  (and send anonymous visitors to the login page);
- a URL without an object must not show the foreign case's number, and a POST to it must not
  change the foreign case;
- a URL whose path parameter this walk does not know fails the test until it is added to
  ``FOREIGN_OBJECTS`` below: a new kind of object must be walked, not skipped.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from judicial_link.models import ConfirmationApplication, DueItem, EnforcementPackage
from mediation import services
from mediation.models import Case, CaseState, ExtensionRequest, LedgerEntry, Organisation, Role, User
from mediators.models import ChangeRequest, DeclaredRelationship, Disclosure, MediatorComplaint, MediatorProfile
from sessions import attachments
from sessions import services as session_services
from sessions.models import Attendance, MediationRecord, MediationSession, UnavailableDate
from signing.models import Agreement, AgreementVersion, PdfRevision, VersionComment
from tests import factories
from tests.factories import sample_pdf_upload

# URLs anyone may open: nothing case-specific behind them.
PUBLIC = {
    "login",
    "register",
    "set_language",
    "display_mode",
    "otp_verify",
    "home",
    # 在线调解规则 Art 5: the roster and each listed mediator's public profile are open to all.
    "mediators:roster",
    "mediators:roster_profile",
    # Anyone holding an agreement can check it; the CA's certificates, CRLs and the TSA are public.
    "signing:verify",
    "signing:verify_code",
    "signing:verify_api",
    "signing:pki_file",
    "signing:tsa",
}
# The court API authenticates by court token, not by session: tests/test_court_api.py walks every
# one of its URLs with another court's token (404) and without a token (401), and checks that a
# logged-in session gets nothing from it.
SKIPPED_NAMESPACES = {"admin", "court_api"}


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIPPED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, prefix, ns)
        elif isinstance(entry, URLPattern):
            if entry.name is None:
                pytest.fail(f"URL pattern {entry.pattern} has no name; every view must be named to be walked")
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry


@pytest.fixture
def foreign_world(db: None, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    """A case in another centre, against another bank, with every kind of object on it."""
    centre = factories.organisation(Organisation.Kind.CENTRE, "外地调解中心")
    bank = factories.organisation(Organisation.Kind.INSTITUTION, "外地银行")
    owner = factories.user("foreign_consumer", Role.CONSUMER)
    agent = factories.user("foreign_agent", Role.INSTITUTION_AGENT, bank)
    manager = factories.user("foreign_manager", Role.CASE_MANAGER, centre)
    mediator = factories.user("foreign_mediator", Role.MEDIATOR, centre)
    case = factories.complaint(owner, bank, centre)
    evidence = services.add_evidence(case, user=owner, upload=sample_pdf_upload())
    services.accept_case(case, actor=manager)
    services.transfer_to_institution(case, actor=manager)
    services.request_answer_extension(case, actor=agent, reason="情况复杂")
    extension = services.request_answer_extension(case, actor=agent, reason="需总行审批")
    assert extension.status == ExtensionRequest.Status.PENDING
    deadline = extension.deadline
    answer = services.answer_complaint(case, agent=agent, outcome="not_resolved", text="维持")
    services.request_mediation(case, consumer=owner)
    services.record_institution_consent(case, agent=agent, consent=True)
    profile = MediatorProfile.objects.create(
        user=mediator, centre=centre, display_name="外地调解员", employment="part_time", region="浙江省杭州市"
    )
    qualification = profile.qualifications.create(name="人民调解员证")
    relationship = profile.relationships.create(kind=DeclaredRelationship.Kind.OTHER, description="外地")
    unavailable = profile.unavailable.create(start_date=datetime.date(2027, 1, 4), end_date=datetime.date(2027, 1, 8))
    services.assign_mediator(case, actor=manager, mediator=mediator)
    participant = case.participants.get(user=mediator)
    disclosure = Disclosure.objects.create(case=case, mediator=mediator, has_conflict=True, text="曾为该行提供咨询")
    change = ChangeRequest.objects.create(case=case, mediator=mediator, requested_by=owner, reason="不信任")
    complaint = MediatorComplaint.objects.create(
        mediator=mediator, case=case, filed_by=owner, ground=MediatorComplaint.Ground.OTHER, text="态度"
    )
    # An agreement with a draft, a comment and a stored revision, so that the signing URLs refuse
    # something that exists (rows made directly: the case is not at the agreement stage).
    agreement = Agreement.objects.create(case=case, template="general", short_code="FOREIGN2")
    version = AgreementVersion.objects.create(
        agreement=agreement, number=1, facts="外地", dispute="外地", terms={}, author=mediator, content_hash="0" * 64
    )
    VersionComment.objects.create(version=version, author=owner, body="外地意见")
    revision = PdfRevision(agreement=agreement, number=1, size=4, sha256="0" * 64, sm3="0" * 64)
    revision.file.save("foreign.pdf", ContentFile(factories.sample_pdf_bytes()), save=True)
    # An application for judicial confirmation to a court in the other province.
    foreign_court = factories.organisation(Organisation.Kind.COURT, "外地人民法院", region="浙江省杭州市")
    application = ConfirmationApplication(
        case=case,
        court=foreign_court,
        submitted_by=owner,
        package_size=4,
        package_sha256="0" * 64,
        package_sm3="0" * 64,
        manifest_sha256="0" * 64,
    )
    application.package.save("foreign.zip", ContentFile(b"PK\x05\x06" + bytes(18)), save=True)
    # A due item with a payment receipt and an enforcement package (rows made directly, like the agreement).
    due_item = DueItem(
        case=case,
        agreement=agreement,
        sequence=1,
        kind=DueItem.Kind.LUMP_SUM,
        due_date=datetime.date(2027, 1, 4),
        payer=DueItem.Side.INSTITUTION,
        payer_name="外地银行",
        payee_name="外地消费者",
        description="外地",
    )
    due_item.evidence.save("receipt.pdf", ContentFile(factories.sample_pdf_bytes()), save=True)
    enforcement = EnforcementPackage(
        case=case,
        application=application,
        court=foreign_court,
        built_by=owner,
        last_performance_day=due_item.due_date,
        limit_date=due_item.due_date,
        package_size=4,
        package_sha256="0" * 64,
        package_sm3="0" * 64,
        manifest_sha256="0" * 64,
    )
    enforcement.package.save("foreign-enforcement.zip", ContentFile(b"PK\x05\x06" + bytes(18)), save=True)
    # A sitting with the mediator checked in, so the sitting pages and their controls refuse something real.
    sitting = MediationSession.objects.create(
        case=case,
        number=1,
        scheduled_start=datetime.datetime(2027, 1, 5, 9, tzinfo=datetime.UTC),
        scheduled_end=datetime.datetime(2027, 1, 5, 11, tzinfo=datetime.UTC),
        created_by=mediator,
    )
    attendance = Attendance.objects.create(session=sitting, user=mediator, role=Attendance.Role.MEDIATOR)
    unavailable_date = UnavailableDate.objects.create(case=case, user=owner, date=datetime.date(2027, 1, 6))
    # Its mediation record (调解笔录), made directly like the agreement.
    MediationRecord.objects.create(
        session=sitting, drafted_by=mediator, updated_at=timezone.now(), undisputed_facts="外地"
    )
    # A file in the foreign case's consumer caucus (rooms are made on first use).
    caucus = session_services.rooms_for_case(case)[1]
    room_file = attachments.post_file(caucus, author=owner, upload=sample_pdf_upload("外地.pdf"))
    return {
        "case": case,
        "objects": {
            "pk": case.pk,
            "case_pk": case.pk,
            "evidence_pk": evidence.pk,
            "extension_pk": extension.pk,
            "request_pk": extension.pk,
            "deadline_pk": deadline.pk,
            "answer_pk": answer.pk,
            "participant_pk": participant.pk,
            "mediator_pk": profile.pk,
            "qualification_pk": qualification.pk,
            "relationship_pk": relationship.pk,
            "unavailable_pk": unavailable.pk,
            "disclosure_pk": disclosure.pk,
            "change_pk": change.pk,
            "complaint_pk": complaint.pk,
            "number": 1,
            "a": 1,
            "b": 1,
            "code": agreement.short_code,
            "name": "root.crt",
            "application_pk": application.pk,
            "item_pk": due_item.pk,
            "enforcement_pk": enforcement.pk,
            "session_pk": sitting.pk,
            "unavailable_date_pk": unavailable_date.pk,
            "attendance_pk": attendance.pk,
            "room_pk": caucus.pk,
            "attachment_pk": room_file.attachment.pk,
        },
    }


def _snapshot(case: Case) -> tuple[str, int, int]:
    case.refresh_from_db()
    return case.state, case.transitions.count(), LedgerEntry.objects.filter(case=case).count()


PERSONAS = [
    "consumer",
    "outsider",
    "bank_agent",
    "branch_agent",
    "bank_supervisor",
    "mediator",
    "case_manager",
    "court_clerk",
    "regulator",
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_url_refuses_a_persona_not_on_the_case(
    persona: str, request: pytest.FixtureRequest, foreign_world: dict[str, Any]
) -> None:
    user: User = request.getfixturevalue(persona)
    case: Case = foreign_world["case"]
    objects: dict[str, int] = foreign_world["objects"]
    client = Client()
    before = _snapshot(case)
    walked = 0
    for name, pattern in _walk(get_resolver().url_patterns):
        params = list(pattern.pattern.regex.groupindex)
        unknown = [p for p in params if p not in objects]
        assert not unknown, f"{name}: path parameter(s) {unknown} unknown to the walk; add them to foreign_world"
        url = reverse(name, kwargs={p: objects[p] for p in params})
        if name in PUBLIC:
            continue
        for method in ("get", "post"):
            client.force_login(user)  # a walked logout view must not turn the rest into anonymous visits
            response = getattr(client, method)(url)
            walked += 1
            if params:
                assert response.status_code == 404, (
                    f"{persona} {method.upper()} {url} ({name}) -> {response.status_code}"
                )
            elif response.status_code == 200:
                assert case.number not in response.content.decode(), f"{persona} sees {case.number} on {url} ({name})"
        assert _snapshot(case) == before, f"{persona} changed the foreign case through {url} ({name})"
    assert walked > 10
    assert case.state == CaseState.AWAITING_MEDIATOR


def test_anonymous_visitors_are_sent_to_login_or_refused(foreign_world: dict[str, Any]) -> None:
    client = Client()
    objects = foreign_world["objects"]
    login = reverse("login")
    for name, pattern in _walk(get_resolver().url_patterns):
        params = list(pattern.pattern.regex.groupindex)
        url = reverse(name, kwargs={p: objects[p] for p in params})
        response = client.get(url)
        if name in PUBLIC:
            continue
        assert response.status_code in (302, 404), f"anonymous GET {url} ({name}) -> {response.status_code}"
        if response.status_code == 302:
            assert response["Location"].startswith(login), f"anonymous GET {url} ({name}) -> {response['Location']}"


def test_admin_is_refused_to_non_staff(consumer: User, bank_agent: User) -> None:
    for user in (consumer, bank_agent):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("admin:mediation_case_changelist"))
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
