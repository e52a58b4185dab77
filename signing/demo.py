"""The demo's fully signed agreement: drafted, commented, finalised and signed by everyone.

Signing goes through the same code as a real signature except the person check: nobody can type
a one-time code while ``load_demo`` runs, so the evidence records ``"verification": "demo-data"``
instead of ``otp_verified``. The PDF is written to storage like any real one, so a newcomer can
open it in a PDF reader and on the verification page.
"""

from __future__ import annotations

import datetime
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
    agreed = terms.clean_terms(
        {
            **first.terms,
            "payer": "institution",
            "payment_amount": "1260.00",
            "payment_due": None,
            "instalments": [
                {"due": (today + datetime.timedelta(days=15)).isoformat(), "amount": "630.00"},
                {"due": (today + datetime.timedelta(days=45)).isoformat(), "amount": "630.00"},
            ],
            "waivers": [],
            "credit_corrections": [],
            "withdraw_complaint": True,
            "confidentiality": True,
            "judicial_confirmation_consent": True,
            "performance": "银行分两期将款项转入申请人尾号 0817 的本人借记卡，并于首期付款前关闭短信服务。",
            "other_terms": ["自本协议生效之日起，银行不再对申请人该账户收取短信服务费。"],
        }
    )
    version = drafting.save_version(
        agreement,
        actor=mediator,
        facts=first.facts,
        dispute="申请人认为银行未经同意扣收账户管理费和短信服务费共计1260元，要求全部退还；银行认为已按公示标准收费。",
        terms=agreed,
        change_note="按第二次调解会谈达成的意见修改：全额退还，分两期支付。",
    )
    drafting.add_comment(version, actor=consumer, body="同意分两期退还，请按此定稿。")
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
