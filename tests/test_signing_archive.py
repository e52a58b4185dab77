"""Renewing the archive timestamp of a sealed agreement (PAdES B-LTA maintenance)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from mediation.models import Case, User
from signing import services, verify
from signing.models import Agreement, SigningEvent
from tests.signing_helpers import prepared_agreement, read_latest, sign_as


@pytest.fixture
def sealed(
    mediating_case: Case,
    mediator: User,
    consumer: User,
    bank_agent: User,
    case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> Agreement:
    agreement = prepared_agreement(mediating_case, mediator)
    for person in (consumer, bank_agent, mediator, case_manager):
        sign_as(Agreement.objects.get(pk=agreement.pk), person, django_capture_on_commit_callbacks)
    return Agreement.objects.get(pk=agreement.pk)


def test_renewal_adds_a_document_timestamp_and_keeps_every_signature_valid(sealed: Agreement) -> None:
    before = read_latest(sealed)
    assert len(verify.verify_pdf(before).timestamps) == 1
    revision = services.renew_archive_timestamp(sealed)
    assert revision.number == 5 and revision.slot is None
    after = read_latest(sealed)
    assert after.startswith(before), "an incremental update: the sealed bytes are untouched"
    report = verify.verify_pdf(after)
    assert report.ok, report.verdict
    assert len(report.timestamps) == 2 and all(t.ok for t in report.timestamps)
    assert len(report.signatures) == 4 and not any(s.changed_after for s in report.signatures)
    event = sealed.events.get(kind=SigningEvent.Kind.ARCHIVE_TIMESTAMP)
    assert event.data["after_sha256"] == revision.sha256 and event.data["base_revision"] == 4


def test_only_effective_agreements_are_renewed(mediating_case: Case, mediator: User) -> None:
    agreement = prepared_agreement(mediating_case, mediator)
    with pytest.raises(services.SigningError) as refused:
        services.renew_archive_timestamp(agreement)
    assert refused.value.code == "state"
    assert agreement.revisions.count() == 1


def test_the_command_renews_only_what_expires_within_the_horizon(sealed: Agreement) -> None:
    out = StringIO()
    call_command("renew_archive_timestamps", "--within-days", "30", stdout=out)
    assert "0 agreement(s) renewed" in out.getvalue()
    assert sealed.revisions.count() == 5
    out = StringIO()
    call_command("renew_archive_timestamps", "--within-days", "3650", "--dry-run", stdout=out)
    assert "would renew" in out.getvalue() and sealed.revisions.count() == 5
    out = StringIO()
    call_command("renew_archive_timestamps", "--within-days", "3650", stdout=out)
    assert "1 agreement(s) renewed" in out.getvalue()
    assert sealed.revisions.count() == 6
