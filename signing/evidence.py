"""The signing evidence kept for the signing report: one ``SigningEvent`` per step, with its ledger entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediation import ledger
from mediation.models import User
from signing.models import Agreement, SignatureSlot, SigningEvent


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    ip: str | None = None
    user_agent: str = ""


def record(
    agreement: Agreement,
    kind: str,
    *,
    actor: User | None,
    origin: Origin = Origin(),  # noqa: B008 - immutable
    slot: SignatureSlot | None = None,
    data: dict[str, Any] | None = None,
    action: str | None = None,
) -> SigningEvent:
    """Write the event and, when ``action`` names one, the ledger entry with the same data."""
    ip = ledger.normalise_ip(origin.ip)
    event = SigningEvent.objects.create(
        agreement=agreement,
        slot=slot,
        kind=kind,
        actor=actor,
        ip=ip,
        user_agent=origin.user_agent[:400],
        data=data or {},
    )
    if action:
        ledger.record(action, actor=actor, case=agreement.case, ip=ip, data=data or {})
    return event


def origin_of(request: Any) -> Origin:
    """Where an HTTP request came from."""
    return Origin(ip=request.META.get("REMOTE_ADDR") or None, user_agent=request.META.get("HTTP_USER_AGENT", ""))
