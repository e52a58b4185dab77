"""Court API tokens: ``create --clerk USERNAME --label TEXT`` (prints the token once), ``list``, ``revoke PREFIX``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from judicial_link.api import issue_token
from judicial_link.models import CourtApiToken
from mediation.models import Role, User


class Command(BaseCommand):
    help = "Create, list or revoke court API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a token acting as one court clerk")
        create.add_argument("--clerk", required=True, help="username of a court clerk")
        create.add_argument("--label", required=True, help="what the token is for, e.g. the court's case system")
        actions.add_parser("list", help="every token with its state")
        revoke = actions.add_parser("revoke", help="stop a token at once")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            clerk = User.objects.filter(username=options["clerk"], role=Role.COURT_CLERK).first()
            if clerk is None or clerk.organisation is None:
                raise CommandError(f"no court clerk with username {options['clerk']!r}")
            token, secret = issue_token(clerk, label=options["label"])
            self.stdout.write(f"court: {token.court.name}\nclerk: {clerk.username}\ntoken (shown once): {secret}")
        elif options["action"] == "list":
            for token in CourtApiToken.objects.select_related("court", "clerk").order_by("court__name", "created_at"):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(
                    f"{token.prefix}  {token.court.name}  {token.clerk.username}  {token.label}  {state}  used {used}"
                )
        else:
            updated = CourtApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            if not updated:
                raise CommandError(f"no active token with prefix {options['prefix']!r}")
            self.stdout.write(f"revoked {options['prefix']}")
