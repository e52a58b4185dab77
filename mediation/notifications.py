"""In-app notifications with e-mail copies, and the SMS backends (console by default).

SMS goes out only where a service asks for it (``send_sms``: one-time codes, urgent notices);
``notify`` writes the in-app message and e-mails a copy after the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.db import transaction
from django.utils.module_loading import import_string

from mediation.models import Case, Notification, User

logger = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSmsBackend:
    """Prints the SMS instead of sending it (embedded default)."""

    def send(self, phone: str, text: str) -> None:
        print(f"[SMS to {phone}] {text}", flush=True)  # noqa: T201


class MemorySmsBackend:
    """Keeps sent messages in ``outbox`` (tests)."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.outbox.append((phone, text))


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend


def send_sms(phone: str, text: str) -> None:
    sms_backend().send(phone, text)


# An e-mail attachment as Django's EmailMessage takes it: (filename, content, mimetype).
Attachment = tuple[str, bytes | str, str]


def notify(
    recipients: Iterable[User],
    kind: str,
    message: str,
    *,
    case: Case | None = None,
    attachments: Sequence[Attachment] = (),
) -> list[Notification]:
    """Create in-app notifications now; send the e-mail copies (with ``attachments``, such as a
    calendar invitation) after the transaction commits."""
    notes = [
        Notification.objects.create(recipient=user, case=case, kind=kind, message=message)
        for user in {u.pk: u for u in recipients}.values()
    ]
    addresses = [n.recipient.email for n in notes if n.recipient.email]
    if addresses:
        # A line break in a header makes send_mail raise BadHeaderError; messages quote
        # user-typed reasons, which may contain one.
        headline = " ".join(message.split())[:60]
        subject = f"[{case.number}] {headline}" if case else headline
        transaction.on_commit(lambda: _send_emails(subject, message, addresses, attachments))
    return notes


def _send_emails(subject: str, body: str, addresses: list[str], attachments: Sequence[Attachment] = ()) -> None:
    for address in addresses:
        try:
            if attachments:
                EmailMessage(subject, body, None, [address], attachments=list(attachments)).send()
            else:
                send_mail(subject, body, None, [address])
        except OSError:
            logger.exception("could not send notification e-mail to %s", address)
