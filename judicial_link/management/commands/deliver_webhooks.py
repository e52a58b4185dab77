"""Send the court webhooks whose next attempt is due (run from cron every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from judicial_link.webhooks import deliver_due


class Command(BaseCommand):
    help = "Retry the court webhooks that are due."

    def handle(self, *args: Any, **options: Any) -> None:
        done = deliver_due()
        delivered = sum(1 for d in done if d.delivered_at is not None)
        given_up = sum(1 for d in done if d.given_up_at is not None)
        self.stdout.write(f"attempted {len(done)}, delivered {delivered}, given up {given_up}")
