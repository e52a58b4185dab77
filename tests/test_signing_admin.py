"""The admin lists issued certificates read-only and revokes them onto the CRL."""

from __future__ import annotations

from cryptography import x509
from django.test import Client
from django.urls import reverse

from mediation.models import LedgerEntry, Organisation, User
from signing import pki
from signing.models import IssuedCertificate


def test_an_administrator_revokes_a_seal_certificate_and_the_crl_lists_it(admin_user: User, bank: Organisation) -> None:
    seal = pki.authority().seal_certificate(bank)
    client = Client()
    client.force_login(admin_user)
    listing = client.get(reverse("admin:signing_issuedcertificate_changelist"))
    assert listing.status_code == 200 and seal.serial in listing.content.decode()
    response = client.post(
        reverse("admin:signing_issuedcertificate_changelist"),
        {"action": "revoke_key_compromise", "_selected_action": [seal.pk]},
        follow=True,
    )
    assert response.status_code == 200
    seal.refresh_from_db()
    assert seal.revoked_at is not None and seal.revocation_reason == "keyCompromise"
    assert LedgerEntry.objects.filter(action="signing.certificate.revoked").exists()
    crl = x509.load_der_x509_crl(client.get(reverse("signing:pki_file", kwargs={"name": "issuing.crl"})).content)
    assert crl.get_revoked_certificate_by_serial_number(int(seal.serial, 16)) is not None
    # A revoked seal is never used again: the next request issues a new one.
    assert pki.authority().seal_certificate(bank).serial != seal.serial


def test_certificates_cannot_be_added_or_edited(admin_user: User, bank: Organisation) -> None:
    seal = pki.authority().seal_certificate(bank)
    client = Client()
    client.force_login(admin_user)
    assert client.get(reverse("admin:signing_issuedcertificate_add")).status_code == 403
    client.post(reverse("admin:signing_issuedcertificate_change", args=[seal.pk]), {"subject": "forged"})
    assert IssuedCertificate.objects.get(pk=seal.pk).subject == seal.subject
