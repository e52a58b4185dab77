"""Tamper-evident audit ledger.

Every entry stores the hash of the entry before it and a hash of its own content, so any
edited, deleted, inserted or reordered row breaks the chain at that point. ``verify`` walks the
chain and names the first broken link; ``manage.py verify_ledger`` prints it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from mediation.models import Case, LedgerEntry, LedgerHead, User

GENESIS_HASH = "0" * 64


def canonical_content(
    *,
    seq: int,
    at: str,
    actor_id: int | None,
    actor_label: str,
    ip: str | None,
    action: str,
    case_id: int | None,
    data: Any,
    prev_hash: str,
) -> bytes:
    payload = {
        "seq": seq,
        "at": at,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "ip": ip,
        "action": action,
        "case_id": case_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sm3_hex(content: bytes) -> str:
    return hashlib.new("sm3", content).hexdigest()


def _entry_content(entry: LedgerEntry) -> bytes:
    return canonical_content(
        seq=entry.seq,
        at=entry.at.isoformat(),
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        ip=entry.ip,
        action=entry.action,
        case_id=entry.case_id,
        data=entry.data,
        prev_hash=entry.prev_hash,
    )


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    actor: User | Any | None = None,
    case: Case | None = None,
    request: HttpRequest | None = None,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry. Runs inside the caller's transaction when there is one.

    The head row is locked, so two writers on PostgreSQL chain one after the other; SQLite
    serialises writers anyway.
    """
    # JSON round-trip so the stored data hashes the same way when read back.
    clean_data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    at = timezone.now()
    actor_user = actor if isinstance(actor, User) else None
    with transaction.atomic():
        head, _created = LedgerHead.objects.select_for_update().get_or_create(
            id=1, defaults={"seq": 0, "entry_hash": GENESIS_HASH}
        )
        seq = head.seq + 1
        entry = LedgerEntry(
            seq=seq,
            at=at,
            actor=actor_user,
            actor_label=actor_user.get_username() if actor_user else "system",
            ip=ip or client_ip(request),
            action=action,
            case=case,
            data=clean_data,
            prev_hash=head.entry_hash,
        )
        content = _entry_content(entry)
        entry.entry_hash = hashlib.sha256(content).hexdigest()
        entry.entry_sm3 = sm3_hex(content)
        entry.save()
        head.seq = seq
        head.entry_hash = entry.entry_hash
        head.save(update_fields=["seq", "entry_hash"])
    return entry


@dataclass(frozen=True)
class LedgerBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class LedgerReport:
    checked: int
    head_hash: str
    first_break: LedgerBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _iter_entries(chunk: int = 2000) -> Iterator[LedgerEntry]:
    last = 0
    while True:
        batch = list(LedgerEntry.objects.filter(seq__gt=last).order_by("seq")[:chunk])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def verify() -> LedgerReport:
    """Walk the whole chain; stop at the first entry that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in _iter_entries():
        if entry.seq != expected_seq:
            return LedgerReport(
                checked, expected_prev, LedgerBreak(entry.seq, f"entry {expected_seq} is missing (found {entry.seq})")
            )
        if entry.prev_hash != expected_prev:
            return LedgerReport(
                checked,
                expected_prev,
                LedgerBreak(entry.seq, "previous-hash link does not match the entry before it (deleted or reordered)"),
            )
        content = _entry_content(entry)
        if hashlib.sha256(content).hexdigest() != entry.entry_hash or sm3_hex(content) != entry.entry_sm3:
            return LedgerReport(checked, expected_prev, LedgerBreak(entry.seq, "content does not match its hash (edited)"))
        expected_prev = entry.entry_hash
        expected_seq += 1
        checked += 1
    head = LedgerHead.objects.filter(id=1).first()
    if head is not None and (head.seq != checked or head.entry_hash != expected_prev):
        return LedgerReport(
            checked,
            expected_prev,
            LedgerBreak(checked + 1, f"the chain ends at entry {checked} but the head records entry {head.seq} (truncated)"),
        )
    return LedgerReport(checked, expected_prev, None)


def case_excerpt(case: Case) -> list[dict[str, Any]]:
    """A case's entries with their hashes, for the timeline and the court package."""
    return [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "actor": e.actor_label,
            "action": e.action,
            "data": e.data,
            "prev_hash": e.prev_hash,
            "entry_hash": e.entry_hash,
            "entry_sm3": e.entry_sm3,
        }
        for e in case.ledger_entries.order_by("seq")
    ]
