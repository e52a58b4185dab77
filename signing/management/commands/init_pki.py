"""Create the built-in CA (root, issuing CA, TSA) if it is missing; print where it is and how to recognise it.

Idempotent: run it on every start (``make run`` does). Compare the root fingerprint out of band with the
one a court or an institution was given before they trust ``/pki/root.crt``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from signing import pki


class Command(BaseCommand):
    help = "Create the built-in certificate authority and time-stamping key if missing; print the root fingerprint."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            authority = pki.initialise()
        except pki.PkiError as error:
            raise CommandError(str(error)) from error
        state = "created" if authority.created else "already present"
        self.stdout.write(self.style.SUCCESS(f"built-in CA {state} in {authority.directory}"))
        self.stdout.write(f"root certificate SHA-256 fingerprint: {authority.root_fingerprint}")
        for name in ("root", "issuing", "tsa"):
            self.stdout.write(f"  {name + ':':9}{authority.path(name + '.crt')}  (key {authority.path(name + '.key')})")
