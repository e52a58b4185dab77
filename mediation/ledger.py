"""Tamper-evident audit ledger.

Every entry stores the hash of the entry before it and a hash of its own content, so any
edited, deleted, inserted or reordered row breaks the chain at that point. ``verify`` walks the
chain and names the first broken link; ``manage.py verify_ledger`` prints it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

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


def normalise_ip(ip: str | None) -> str | None:
    """The address exactly as ``GenericIPAddressField`` stores it, or None if it is not one.

    The hash must be computed over what is read back: the field rewrites IPv6 addresses
    (``2001:DB8:0::1`` → ``2001:db8::1``), which would otherwise break the chain on verify.
    """
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if address.version == 4:
        return str(address)
    return clean_ipv6_address(str(address).split("%", 1)[0])


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
    actor_user = actor if isinstance(actor, User) else None
    with transaction.atomic():
        head, _created = LedgerHead.objects.select_for_update().get_or_create(
            id=1, defaults={"seq": 0, "entry_hash": GENESIS_HASH}
        )
        # Taken under the lock so times never run backwards along the chain.
        at = timezone.now()
        seq = head.seq + 1
        entry = LedgerEntry(
            seq=seq,
            at=at,
            actor=actor_user,
            actor_label=actor_user.get_username() if actor_user else "system",
            ip=normalise_ip(ip or client_ip(request)),
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
    """Walk the whole chain; stop at the first entry that does not fit.

    The head row closes the chain: a truncated tail or a forged entry appended after it
    shows up as a disagreement between the last entry and the head.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in _iter_entries():
        if entry.seq != expected_seq:
            return LedgerReport(
                checked,
                expected_prev,
                LedgerBreak(expected_seq, f"entry {expected_seq} is missing (the next entry is {entry.seq}; deleted)"),
            )
        if entry.prev_hash != expected_prev:
            return LedgerReport(
                checked,
                expected_prev,
                LedgerBreak(entry.seq, "previous-hash link does not match the entry before it (deleted or reordered)"),
            )
        content = _entry_content(entry)
        if hashlib.sha256(content).hexdigest() != entry.entry_hash:
            return LedgerReport(
                checked, expected_prev, LedgerBreak(entry.seq, "content does not match its SHA-256 hash (edited)")
            )
        if sm3_hex(content) != entry.entry_sm3:
            return LedgerReport(
                checked, expected_prev, LedgerBreak(entry.seq, "content does not match its SM3 hash (edited)")
            )
        expected_prev = entry.entry_hash
        expected_seq += 1
        checked += 1
    head = LedgerHead.objects.filter(id=1).first()
    if head is None:
        if checked:
            return LedgerReport(
                checked, expected_prev, LedgerBreak(checked + 1, "the ledger head row is missing (deleted)")
            )
        return LedgerReport(0, GENESIS_HASH, None)
    if head.seq > checked:
        return LedgerReport(
            checked,
            expected_prev,
            LedgerBreak(
                checked + 1, f"the chain ends at entry {checked} but the head records entry {head.seq} (truncated)"
            ),
        )
    if head.seq < checked:
        return LedgerReport(
            checked,
            expected_prev,
            LedgerBreak(head.seq + 1, f"entries after {head.seq} were never recorded by the head (inserted)"),
        )
    if head.entry_hash != expected_prev:
        return LedgerReport(
            checked,
            expected_prev,
            LedgerBreak(checked, f"entry {checked} does not match the hash the head recorded (replaced)"),
        )
    return LedgerReport(checked, expected_prev, None)


def case_excerpt(case: Case) -> list[dict[str, Any]]:
    """A case's entries with their hashes, for the timeline and the court package.

    Each entry carries every field its hash covers, so anyone can recompute ``entry_hash`` as the
    SHA-256 (and ``entry_sm3`` as the SM3) of ``canonical_content`` over ``seq``, ``at``,
    ``actor_id``, ``actor_label``, ``ip``, ``action``, ``case_id``, ``data`` and ``prev_hash``
    (JSON, keys sorted, no spaces, UTF-8). ``prev_hash`` links to the previous entry of the whole
    ledger, which may belong to another case.
    """
    return [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "actor_id": e.actor_id,
            "actor_label": e.actor_label,
            "actor": e.actor_label,
            "ip": e.ip,
            "action": e.action,
            "case_id": e.case_id,
            "data": e.data,
            "prev_hash": e.prev_hash,
            "entry_hash": e.entry_hash,
            "entry_sm3": e.entry_sm3,
        }
        for e in case.ledger_entries.order_by("seq")
    ]
