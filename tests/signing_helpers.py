"""Building agreements ready to sign, and signing them as a person would (code from the outbox)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core import mail
from django.utils import timezone

from mediation.models import Case, User
from mediation.notifications import MemorySmsBackend
from signing import drafting, services, terms
from signing.models import Agreement

PASSWORD = "correct horse battery staple"


def agreed_terms(**changes: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data: dict[str, Any] = {
        "payer": "institution",
        "payment_amount": "3000.00",
        "payment_due": None,
        "instalments": [
            {"due": (today + datetime.timedelta(days=10)).isoformat(), "amount": "1000.00"},
            {"due": (today + datetime.timedelta(days=40)).isoformat(), "amount": "2000.00"},
        ],
        "waivers": [{"kind": "interest", "amount": "450.50", "description": "免除逾期利息"}],
        "credit_corrections": [
            {"description": "申请更正2026年9月逾期记录", "due": (today + datetime.timedelta(days=20)).isoformat()}
        ],
        "withdraw_complaint": True,
        "confidentiality": True,
        "judicial_confirmation_consent": True,
        "performance": "银行分两期转账至申请人本人账户。",
        "other_terms": ["双方就本纠纷再无其他争议。"],
    }
    data.update(changes)
    return terms.clean_terms(data)


def finalised_agreement(case: Case, mediator: User) -> Agreement:
    agreement = drafting.start_agreement(case, actor=mediator)
    version = drafting.save_version(
        agreement,
        actor=mediator,
        facts="申请人张三持有被申请人信用卡，2026年9月被收取分期手续费及逾期利息。",
        dispute="申请人认为收费未经明确告知，要求退还；被申请人认为已在合同中载明。",
        terms=agreed_terms(),
        change_note="第二次调解会谈后定稿",
    )
    return drafting.finalise(agreement, actor=mediator, version=version)


def prepared_agreement(case: Case, mediator: User) -> Agreement:
    agreement = finalised_agreement(case, mediator)
    return services.prepare_signing(agreement, actor=mediator)


def last_code(user: User) -> str:
    texts = [text for phone, text in MemorySmsBackend.outbox if phone == str(user.phone)]
    texts += [str(m.body) for m in mail.outbox if user.email in m.to]
    if not texts:
        raise AssertionError(f"no code was sent to {user.username}")
    found = re.search(r"\b(\d{6})\b", texts[-1])
    if found is None:
        raise AssertionError("the message carries no code")
    return found.group(1)


def request_code(agreement: Agreement, user: User, capture: Any) -> str:
    with capture(execute=True):
        services.request_code(agreement, user=user, origin=services.Origin(ip="203.0.113.9", user_agent="pytest"))
    return last_code(user)


def sign_as(agreement: Agreement, user: User, capture: Any, **overrides: Any) -> Any:
    """Get a code and sign, like the sign page does; ``overrides`` replace any argument of ``sign``."""
    code = request_code(agreement, user, capture)
    latest = services.latest_revision(agreement)
    arguments: dict[str, Any] = {
        "user": user,
        "password": PASSWORD,
        "code": code,
        "seen_sha256": latest.sha256 if latest else "",
        "request_token": services.new_request_token(),
        "origin": services.Origin(ip="203.0.113.9", user_agent="pytest"),
    }
    arguments.update(overrides)
    with capture(execute=True):
        return services.sign(agreement, **arguments)


def read_latest(agreement: Agreement) -> bytes:
    latest = services.latest_revision(agreement)
    if latest is None:
        raise AssertionError("no revision")
    with latest.file.open("rb") as handle:
        return handle.read()
