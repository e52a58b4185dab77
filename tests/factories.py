"""Builders for test and demo data that produce valid identifiers (check digits included)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from stdnum.cn import ric, uscc

from mediation import services
from mediation.models import Case, IntakeChannel, Organisation, Role, User

_counter = itertools.count(1)


def resident_id(serial: int, birth: str = "19800101", region: str = "110105") -> str:
    body = f"{region}{birth}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def credit_code(serial: int) -> str:
    body = f"91110000{serial:09d}"
    return body + uscc.calc_check_digit(body)


def organisation(kind: str, name: str, **fields: Any) -> Organisation:
    if kind == Organisation.Kind.INSTITUTION:
        fields.setdefault("institution_type", Organisation.InstitutionType.BANK)
    fields.setdefault("credit_code", credit_code(next(_counter)))
    return Organisation.objects.create(kind=kind, name=name, **fields)


def user(username: str, role: str, organisation: Organisation | None = None, **fields: Any) -> User:
    serial = next(_counter)
    fields.setdefault("real_name", username)
    fields.setdefault("phone", f"+86138{serial:08d}")
    fields.setdefault("email", f"{username}@example.cn")
    person = User(username=username, role=role, organisation=organisation, **fields)
    person.set_password("correct horse battery staple")
    if role == Role.CONSUMER:
        person.set_id_number(resident_id(serial))
    person.save()
    from mediation.permissions import sync_user_groups

    sync_user_groups(person)
    return person


def pool_mediator(username: str, centre: Organisation, **fields: Any) -> User:
    """A mediator on the centre's roster: active profile with a certificate that does not expire."""
    from mediators.models import MediatorProfile

    person = user(username, Role.MEDIATOR, centre, **fields)
    profile = MediatorProfile.objects.create(
        user=person,
        centre=centre,
        display_name=person.real_name,
        employment=MediatorProfile.Employment.PART_TIME,
        region=centre.region or "广东省广州市",
    )
    profile.qualifications.create(name="人民调解员资格", number=f"TJ{next(_counter):06d}")
    return person


def complaint(
    consumer: User,
    institution: Organisation,
    centre: Organisation,
    *,
    entered_by: User | None = None,
    product_category: str = "credit_card",
    issue_type: str = "interest_fees",
    amount: str = "12000.00",
    **extra: Any,
) -> Case:
    return services.submit_complaint(
        consumer=consumer,
        entered_by=entered_by or consumer,
        channel=extra.pop("channel", IntakeChannel.WEB),
        centre=centre,
        institution=institution,
        product_category=product_category,
        issue_type=issue_type,
        amount_in_dispute=Decimal(amount),
        description=extra.pop("description", "信用卡分期手续费未如实告知，要求退还。"),
        requested_outcome=extra.pop("requested_outcome", "退还手续费 1200 元"),
        consent_online_mediation=extra.pop("consent_online_mediation", True),
        service_address=extra.pop("service_address", consumer.email or "consumer@example.cn"),
    )


def sample_pdf_bytes(text: str = "evidence") -> bytes:
    """A small but well-formed one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def sample_pdf_upload(name: str = "合同.pdf") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, sample_pdf_bytes(), content_type="application/pdf")


def accept_assignment(case: Case, *, mediator: User, ip: str | None = None) -> Case:
    """The mediator declares no conflict (在线调解规则 Art 13) and accepts, as on the disclosure page."""
    from mediators.models import Disclosure

    Disclosure.objects.get_or_create(case=case, mediator=mediator, defaults={"has_conflict": False})
    return services.mediator_accepts(case, mediator=mediator, ip=ip)
