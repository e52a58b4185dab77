"""Webhooks to courts' systems: a new application is announced, signed with HMAC, retried with back-off.

The body is JSON; ``X-Fengqiao-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the court's
webhook secret, of ``<X-Fengqiao-Timestamp>.<body>``. ``X-Fengqiao-Delivery`` is the same on every
retry of one event, so a receiver can drop repeats. A 2xx answer is delivery; anything else (or no
answer within ``COURT_WEBHOOK_TIMEOUT_SECONDS``) is retried after ``COURT_WEBHOOK_BACKOFF_SECONDS``
× 2^(attempts−1) by ``manage.py deliver_webhooks`` (cron), and given up after
``COURT_WEBHOOK_MAX_ATTEMPTS`` — then the court's clerks and the centre are told.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from judicial_link.models import ConfirmationApplication, CourtWebhook, WebhookDelivery
from mediation import audience
from mediation.models import Organisation, Role, User
from mediation.notifications import notify

logger = logging.getLogger(__name__)

SUBMITTED = "application.submitted"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def set_webhook(court: Organisation, url: str) -> tuple[CourtWebhook, str]:
    """Point ``court``'s webhook at ``url`` with a fresh secret (returned once)."""
    secret = new_secret()
    webhook, _created = CourtWebhook.objects.update_or_create(
        court=court, defaults={"url": url, "secret": secret, "active": True}
    )
    return webhook, secret


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _payload(application: ConfirmationApplication) -> dict[str, Any]:
    base = settings.PUBLIC_BASE_URL
    return {
        "event": SUBMITTED,
        "application": application.pk,
        "case_number": application.case.number,
        "court_code": application.court.court_code,
        "submitted_at": application.submitted_at.isoformat(),
        "package_sha256": application.package_sha256,
        "links": {
            "application": base + reverse("court_api:application", kwargs={"application_pk": application.pk}),
            "package": base + reverse("court_api:package", kwargs={"application_pk": application.pk}),
        },
    }


def announce_submitted(application: ConfirmationApplication) -> WebhookDelivery | None:
    """Queue the event for the court's active webhook and try it at once (call after commit)."""
    webhook = CourtWebhook.objects.filter(court_id=application.court_id, active=True).first()
    if webhook is None:
        return None
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        application=application,
        event=SUBMITTED,
        payload=_payload(application),
        next_attempt_at=timezone.now(),
    )
    return deliver(delivery)


def _post(delivery: WebhookDelivery, now: datetime.datetime) -> tuple[int | None, str]:
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    request = urllib.request.Request(  # noqa: S310 - a court's configured https/http endpoint
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Fengqiao-Webhook/1",
            "X-Fengqiao-Event": delivery.event,
            "X-Fengqiao-Delivery": str(delivery.pk),
            "X-Fengqiao-Timestamp": timestamp,
            "X-Fengqiao-Signature": signature(delivery.webhook.secret, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.COURT_WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status), ""
    except urllib.error.HTTPError as error:
        return int(error.code), f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, str(getattr(error, "reason", error))[:300]


def deliver(delivery: WebhookDelivery, *, now: datetime.datetime | None = None) -> WebhookDelivery:
    """One attempt: delivered on 2xx, else scheduled again with back-off or given up."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().select_related("webhook", "application").get(pk=delivery.pk)
        )
        due = delivery.next_attempt_at is not None and delivery.next_attempt_at <= now
        if delivery.delivered_at is not None or delivery.given_up_at is not None or not due:
            return delivery  # done, or another run already tried it and scheduled the next attempt
        status, error = _post(delivery, now)
        delivery.attempts += 1
        delivery.last_status = status
        if status is not None and 200 <= status < 300:
            delivery.delivered_at, delivery.next_attempt_at, delivery.last_error = now, None, ""
        elif delivery.attempts >= settings.COURT_WEBHOOK_MAX_ATTEMPTS:
            delivery.given_up_at, delivery.next_attempt_at, delivery.last_error = now, None, error
            _tell_given_up(delivery)
        else:
            wait = settings.COURT_WEBHOOK_BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = now + datetime.timedelta(seconds=wait)
            delivery.last_error = error
        delivery.save()
    return delivery


def _tell_given_up(delivery: WebhookDelivery) -> None:
    application = delivery.application
    clerks = list(User.objects.filter(role=Role.COURT_CLERK, organisation_id=application.court_id, is_active=True))
    people = clerks + audience.case_managers(application.case)
    message = _("向%(court)s系统推送司法确认申请（案件 %(number)s）多次失败，已停止重试，请法院在法院端查看。") % {
        "court": application.court.name,
        "number": application.case.number,
    }
    transaction.on_commit(
        lambda: notify(people, "judicial.webhook_failed", message, case=application.case), robust=True
    )


def deliver_due(*, now: datetime.datetime | None = None) -> list[WebhookDelivery]:
    """Every delivery whose next attempt is due (``manage.py deliver_webhooks``)."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        delivered_at__isnull=True, given_up_at__isnull=True, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    return [deliver(delivery, now=now) for delivery in list(due)]
