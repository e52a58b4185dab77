"""Walk the audit ledger's hash chain; exit non-zero at the first broken link (safe to run from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mediation import ledger


class Command(BaseCommand):
    help = "Verify the hash chain of the audit ledger and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger.verify()
        if report.first_break is not None:
            broken = report.first_break
            raise CommandError(
                f"ledger broken at entry {broken.seq}: {broken.reason}; "
                f"{report.checked} entries verified before it, last good hash {report.head_hash}"
            )
        self.stdout.write(self.style.SUCCESS(f"ledger OK: {report.checked} entries, head hash {report.head_hash}"))
