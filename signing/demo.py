"""The demo's fully signed agreement: drafted, commented, finalised and signed by everyone.

Signing goes through the same code as a real signature except the person check: nobody can type
a one-time code while ``load_demo`` runs, so the evidence records ``"verification": "demo-data"``
instead of ``otp_verified``. The PDF is written to storage like any real one, so a newcomer can
open it in a PDF reader and on the verification page.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from mediation import audience
from mediation.models import Case, User
from signing import drafting, services, terms
from signing.models import Agreement, SignatureSlot
from signing.services import Origin

DEMO_ORIGIN = Origin(ip="127.0.0.1", user_agent="load_demo")


def _signer(slot: SignatureSlot, case: Case, users: dict[str, User]) -> User:
    if slot.user is not None:
        return slot.user
    if slot.role == SignatureSlot.Role.INSTITUTION:
        return audience.institution_people(case)[0]
    return users["demo_case_manager"]


def sign_demo_agreement(sender: object, case: Case, users: dict[str, User], **kwargs: Any) -> bool:
    mediator = users["demo_mediator"]
    consumer = audience.consumers(case)[0]
    agreement = drafting.start_agreement(case, actor=mediator)
    first = agreement.versions.get(number=1)
    today = timezone.localdate()
    # The demo settles each case at what the consumer asked for, paid by the institution in two halves.
    amount = Decimal(case.amount_in_dispute or 0).quantize(Decimal("0.01"))
    first_half = (amount / 2).quantize(Decimal("0.01"))
    agreed = terms.clean_terms(
        {
            **first.terms,
            "payer": "institution",
            "payment_amount": str(amount),
            "payment_due": None,
            "instalments": [
                {"due": (today + datetime.timedelta(days=15)).isoformat(), "amount": str(first_half)},
                {"due": (today + datetime.timedelta(days=45)).isoformat(), "amount": str(amount - first_half)},
            ],
            "waivers": [],
            "credit_corrections": [],
            "withdraw_complaint": True,
            "confidentiality": True,
            "judicial_confirmation_consent": True,
            "performance": "被申请人分两期将款项转入申请人本人名下的借记卡账户。",
            "other_terms": ["双方就本纠纷再无其他争议。"],
        }
    )
    version = drafting.save_version(
        agreement,
        actor=mediator,
        facts=first.facts,
        dispute=f"申请人要求：{case.requested_outcome}被申请人认为已按合同约定处理。",
        terms=agreed,
        change_note="按第二次调解会谈达成的意见修改：全额支付，分两期履行。",
    )
    drafting.add_comment(version, actor=consumer, body="同意分两期履行，请按此定稿。")
    drafting.finalise(agreement, actor=mediator, version=version)
    agreement = services.prepare_signing(agreement, actor=mediator)
    for slot in agreement.slots.order_by("position"):
        agreement = Agreement.objects.get(pk=agreement.pk)
        seen = services.latest_revision(agreement)
        if seen is None:
            raise RuntimeError("the demo agreement has no signing text")
        services._sign_verified(  # noqa: SLF001 - the demo cannot type one-time codes
            agreement,
            slot,
            user=_signer(slot, case, users),
            seen=seen,
            request_token="",
            origin=DEMO_ORIGIN,
            verification={"verification": "demo-data"},
        )
    return True
