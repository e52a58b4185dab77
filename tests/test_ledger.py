"""The audit ledger's hash chain: every kind of tampering is found, at the first link it breaks."""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from mediation import ledger
from mediation.models import Case, LedgerEntry, LedgerHead, User


@pytest.fixture
def chain(db: None) -> list[LedgerEntry]:
    """Five entries, the middle one carrying Chinese text and values JSON does not know."""
    return [
        ledger.record("test.one", data={"n": 1}),
        ledger.record("test.two", data={"n": 2}, ip="10.1.2.3"),
        ledger.record(
            "test.three", data={"说明": "调解员回避", "amount": Decimal("1200.50"), "due": datetime.date(2027, 1, 4)}
        ),
        ledger.record("test.four", data={"n": 4}),
        ledger.record("test.five", data={"n": 5}),
    ]


def first_break(expected_reason: str) -> int:
    report = ledger.verify()
    assert report.first_break is not None, "tampering went unnoticed"
    assert expected_reason in report.first_break.reason
    return report.first_break.seq


def forge(seq: int, prev_hash: str, *, data: dict[str, Any] | None = None) -> LedgerEntry:
    """A forger who knows the algorithm: the row's own hashes are right for its content."""
    entry = LedgerEntry(seq=seq, at=datetime.datetime.now(datetime.UTC), actor_label="system", action="test.forged")
    entry.data = data or {"refund": "0"}
    entry.prev_hash = prev_hash
    content = ledger.canonical_content(
        seq=seq,
        at=entry.at.isoformat(),
        actor_id=None,
        actor_label="system",
        ip=None,
        action=entry.action,
        case_id=None,
        data=entry.data,
        prev_hash=prev_hash,
    )
    entry.entry_hash = hashlib.sha256(content).hexdigest()
    entry.entry_sm3 = ledger.sm3_hex(content)
    entry.save()
    return entry


def test_clean_chain_verifies_and_reports_count_and_head(chain: list[LedgerEntry]) -> None:
    report = ledger.verify()

    assert report.ok
    assert report.checked == 5
    assert report.head_hash == chain[-1].entry_hash
    assert [e.prev_hash for e in chain[1:]] == [e.entry_hash for e in chain[:-1]]
    assert chain[0].prev_hash == ledger.GENESIS_HASH
    assert LedgerHead.objects.values_list("seq", "entry_hash").get() == (5, chain[-1].entry_hash)


def test_empty_ledger_verifies(db: None) -> None:
    report = ledger.verify()
    assert report.ok and report.checked == 0 and report.head_hash == ledger.GENESIS_HASH


def test_sm3_is_stored_beside_sha256_over_the_same_content(chain: list[LedgerEntry]) -> None:
    for entry in LedgerEntry.objects.all():
        content = ledger.canonical_content(
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
        assert entry.entry_hash == hashlib.sha256(content).hexdigest()
        assert entry.entry_sm3 == hashlib.new("sm3", content).hexdigest()
        assert entry.entry_sm3 != entry.entry_hash


def test_edited_data_is_found_at_the_edited_entry(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=3).update(data={"说明": "调解员回避", "amount": "12.50", "due": "2027-01-04"})
    assert first_break("edited") == 3


@pytest.mark.parametrize(
    "field, value",
    [
        ("action", "test.innocent"),
        ("actor_label", "someone_else"),
        ("ip", "10.9.9.9"),
        ("at", datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)),
    ],
)
def test_edited_metadata_is_found(chain: list[LedgerEntry], field: str, value: Any) -> None:
    LedgerEntry.objects.filter(seq=2).update(**{field: value})
    assert first_break("edited") == 2


def test_edited_sm3_alone_is_found(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=4).update(entry_sm3="0" * 64)
    assert first_break("SM3") == 4


def test_deleted_entry_is_named(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=3).delete()
    assert first_break("missing") == 3


def test_deleted_first_entry_is_named(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=1).delete()
    assert first_break("missing") == 1


def test_reordered_pair_is_found_at_the_first_of_the_two(chain: list[LedgerEntry]) -> None:
    with transaction.atomic():
        LedgerEntry.objects.filter(seq=2).update(seq=1000)
        LedgerEntry.objects.filter(seq=3).update(seq=2)
        LedgerEntry.objects.filter(seq=1000).update(seq=3)
    assert first_break("previous-hash") == 2


def test_truncated_tail_is_found_through_the_head(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=5).delete()
    assert first_break("truncated") == 5


def test_deleting_the_head_with_the_tail_is_still_found(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=5).delete()
    LedgerHead.objects.all().delete()
    assert first_break("head row is missing") == 5


def test_forged_entry_with_made_up_hashes_is_found_at_itself(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.create(
        seq=6,
        at=chain[-1].at,
        action="test.forged",
        actor_label="system",
        prev_hash=chain[-1].entry_hash,
        entry_hash="f" * 64,
        entry_sm3="f" * 64,
    )
    assert first_break("edited") == 6


def test_correctly_hashed_forgery_appended_at_the_end_is_found_through_the_head(chain: list[LedgerEntry]) -> None:
    forge(6, chain[-1].entry_hash)
    assert first_break("inserted") == 6


def test_correctly_hashed_forgery_inserted_in_the_middle_breaks_the_next_link(chain: list[LedgerEntry]) -> None:
    """The forged row fits its own link; the genuine row after it no longer does."""
    with transaction.atomic():
        for seq in (5, 4):
            LedgerEntry.objects.filter(seq=seq).update(seq=seq + 1)
    forge(4, chain[2].entry_hash)
    assert first_break("previous-hash") == 5


def test_replaced_last_entry_is_found_through_the_head(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=5).delete()
    forge(5, chain[3].entry_hash)
    assert first_break("replaced") == 5


def test_ipv6_addresses_are_stored_as_hashed(db: None) -> None:
    """The field rewrites IPv6 spellings; the hash must be over what is read back."""
    entry = ledger.record("test.ip", ip="2001:DB8:0:0::1")
    ledger.record("test.ip", ip="::ffff:192.0.2.7")
    ledger.record("test.ip", ip="not an address")

    assert LedgerEntry.objects.get(pk=entry.pk).ip == "2001:db8::1"
    assert list(LedgerEntry.objects.order_by("seq").values_list("ip", flat=True)) == [
        "2001:db8::1",
        "::ffff:192.0.2.7",
        None,
    ]
    assert ledger.verify().ok


def test_actor_and_case_are_recorded(mediating_case: Case, mediator: User) -> None:
    entry = ledger.record("test.viewed", actor=mediator, case=mediating_case, data={"what": "evidence"})

    assert (entry.actor, entry.actor_label, entry.case) == (mediator, "mediator", mediating_case)
    excerpt = ledger.case_excerpt(mediating_case)
    assert excerpt[-1]["entry_hash"] == entry.entry_hash
    assert [e["seq"] for e in excerpt] == sorted(e["seq"] for e in excerpt)
    assert {e["action"] for e in excerpt} >= {"mediation.case.submitted", "mediation.case.mediator_accepted"}
    assert ledger.verify().ok


def test_entry_in_a_rolled_back_transaction_leaves_no_gap(chain: list[LedgerEntry]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.record("test.rolled_back")
        raise RuntimeError

    after = ledger.record("test.six")

    assert after.seq == 6 and after.prev_hash == chain[-1].entry_hash
    assert ledger.verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_stay_chained() -> None:
    """Runs on PostgreSQL (``make test-scale``), where the head row lock is what keeps the order."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite fails concurrent writers with 'table is locked' instead of waiting")
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                ledger.record("test.concurrent", data={"worker": worker, "n": n})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    report = ledger.verify()
    assert report.ok and report.checked == 40


def test_a_case_excerpt_can_be_rechecked_by_anyone(submitted_case: Case) -> None:
    """The court gets the excerpt: each entry's hashes follow from the fields it carries."""

    excerpt = ledger.case_excerpt(submitted_case)
    assert excerpt
    for entry in excerpt:
        fields = {
            k: entry[k]
            for k in ("seq", "at", "actor_id", "actor_label", "ip", "action", "case_id", "data", "prev_hash")
        }
        content = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        assert hashlib.sha256(content).hexdigest() == entry["entry_hash"]
        assert hashlib.new("sm3", content).hexdigest() == entry["entry_sm3"]
