"""Extend the document-timestamp chain of effective agreements before it runs out (PAdES B-LTA).

Run it from cron (daily is plenty). By default an agreement is renewed when its newest document
timestamp's certificate expires within 365 days.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from signing import services
from signing.models import Agreement


class Command(BaseCommand):
    help = "Add a new document timestamp to effective agreements whose newest one expires soon."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--within-days", type=int, default=365, help="renew when expiry is this close")
        parser.add_argument("--dry-run", action="store_true", help="list what would be renewed")

    def handle(self, *args: Any, within_days: int, dry_run: bool, **options: Any) -> None:
        horizon = timezone.now() + datetime.timedelta(days=within_days)
        renewed = 0
        for agreement in Agreement.objects.filter(state=Agreement.State.EFFECTIVE).select_related("case"):
            latest = services.latest_revision(agreement)
            if latest is None:
                continue
            with latest.file.open("rb") as handle:
                expiry = services.archive_timestamp_expiry(handle.read())
            if expiry is not None and expiry > horizon:
                continue
            when = expiry.isoformat() if expiry else "none"
            if dry_run:
                self.stdout.write(f"{agreement.case.number}: document timestamp expires {when}: would renew")
                continue
            revision = services.renew_archive_timestamp(agreement)
            renewed += 1
            self.stdout.write(f"{agreement.case.number}: expires {when}: renewed as revision {revision.number}")
        self.stdout.write(f"{renewed} agreement(s) renewed")
