"""``manage.py verify_ledger``: quiet success for cron, a non-zero exit naming the first broken link."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mediation import ledger
from mediation.management.commands.verify_ledger import Command as VerifyLedger
from mediation.models import LedgerEntry


@pytest.fixture
def chain(db: None) -> list[LedgerEntry]:
    return [ledger.record("test.entry", data={"n": n}) for n in range(1, 5)]


def run() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def test_good_chain_prints_count_and_head_hash(chain: list[LedgerEntry]) -> None:
    output = run()

    assert "4 entries" in output
    assert chain[-1].entry_hash in output


def test_empty_ledger_is_fine(db: None) -> None:
    assert "0 entries" in run()
    assert ledger.GENESIS_HASH in run()


def test_edited_entry_fails_with_its_number(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=2).update(data={"n": 200})

    with pytest.raises(CommandError, match=r"broken at entry 2: .*edited") as failure:
        run()

    # The last hash that can still be vouched for is that of the entry before the break.
    assert chain[0].entry_hash in str(failure.value)
    assert "1 entries verified" in str(failure.value)


def test_deleted_entry_fails_with_the_missing_number(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=3).delete()

    with pytest.raises(CommandError, match=r"broken at entry 3: .*missing"):
        run()


def test_truncated_tail_fails(chain: list[LedgerEntry]) -> None:
    LedgerEntry.objects.filter(seq=4).delete()

    with pytest.raises(CommandError, match=r"broken at entry 4: .*truncated"):
        run()


def test_command_exits_non_zero_from_the_shell(chain: list[LedgerEntry]) -> None:
    """What cron sees: ``manage.py`` turns the CommandError into exit status 1 and a message on stderr."""
    LedgerEntry.objects.filter(seq=1).update(action="test.other")
    err = StringIO()
    command = VerifyLedger(stdout=StringIO(), stderr=err)

    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "verify_ledger"])

    assert exited.value.code == 1
    assert "broken at entry 1" in err.getvalue()
