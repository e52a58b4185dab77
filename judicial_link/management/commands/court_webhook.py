"""A court's webhook: ``set --court CODE --url URL`` (prints the new secret once), ``disable --court CODE``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import URLValidator

from judicial_link.models import CourtWebhook
from judicial_link.webhooks import set_webhook
from mediation.models import Organisation


class Command(BaseCommand):
    help = "Point a court's webhook at its system, or turn it off."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        configure = actions.add_parser("set")
        configure.add_argument("--court", required=True, help="the court's code (court_code)")
        configure.add_argument("--url", required=True)
        disable = actions.add_parser("disable")
        disable.add_argument("--court", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        court = Organisation.objects.filter(kind=Organisation.Kind.COURT, court_code=options["court"]).first()
        if court is None:
            raise CommandError(f"no court with code {options['court']!r}")
        if options["action"] == "disable":
            CourtWebhook.objects.filter(court=court).update(active=False)
            self.stdout.write(f"webhook of {court.name} disabled")
            return
        try:
            URLValidator(schemes=["http", "https"])(options["url"])
        except ValidationError as error:
            raise CommandError(f"not an http(s) URL: {options['url']!r}") from error
        webhook, secret = set_webhook(court, options["url"])
        self.stdout.write(f"court: {court.name}\nurl: {webhook.url}\nsecret (shown once): {secret}")
