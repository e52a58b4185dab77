"""Seal every mediation record (调解笔录) every party has confirmed but that has no sealed PDF yet.

Sealing normally follows the last confirmation at once; this catches a record whose sealing failed
(a full disk, say). Idempotent: run it from cron every few minutes.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from signing import records


class Command(BaseCommand):
    help = "Render and seal confirmed mediation records that have no sealed PDF yet."

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = records.seal_pending_records()
        for record in sealed:
            self.stdout.write(f"{record.session.case.number} #{record.session.number}: sealed {record.pdf_sha256}")
        self.stdout.write(f"{len(sealed)} record(s) sealed")
