"""Webhooks to a court's system: signed with HMAC, tried at once, retried with back-off, then given up."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from judicial_link import services, webhooks
from judicial_link.models import ConfirmationApplication, WebhookDelivery
from mediation.models import Case, Notification, Organisation, User
from tests.judicial_helpers import application_documents, basic_court, clerk_of

pytestmark = pytest.mark.django_db


class Receiver:
    """A court system on loopback: checks each signature, fails the first ``fail`` requests."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[dict[str, Any]] = []
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Fengqiao-Timestamp"]
                expected = (
                    "sha256="
                    + hmac.new(receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                receiver.received.append(
                    {
                        "valid": hmac.compare_digest(expected, self.headers["X-Fengqiao-Signature"]),
                        "delivery": self.headers["X-Fengqiao-Delivery"],
                        "event": self.headers["X-Fengqiao-Event"],
                        "body": json.loads(body),
                    }
                )
                status = 503 if len(receiver.received) <= receiver.fail else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fengqiao"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def tianhe(bank: Organisation) -> Organisation:
    court = basic_court("广州市天河区人民法院", bank.region, "J0106")
    clerk_of(court, "tianhe_clerk")
    return court


def _submit(case: Case, consumer: User, court: Organisation, capture: Any) -> ConfirmationApplication:
    with capture(execute=True):
        return services.submit_application(case, actor=consumer, court=court, documents=application_documents(case))


def _configure(court: Organisation, receiver: Receiver) -> None:
    out = StringIO()
    call_command("court_webhook", "set", "--court", court.court_code, "--url", receiver.url, stdout=out)
    receiver.secret = out.getvalue().split("secret (shown once): ")[1].strip()


def test_a_new_application_is_announced_at_once_and_signed(
    ready_case: Case, consumer: User, tianhe: Organisation, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _configure(tianhe, receiver)

    application = _submit(ready_case, consumer, tianhe, django_capture_on_commit_callbacks)

    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got["valid"] and got["event"] == "application.submitted"
    assert got["body"]["application"] == application.pk and got["body"]["package_sha256"] == application.package_sha256
    assert got["body"]["links"]["package"].endswith(f"/api/court/v1/applications/{application.pk}/package")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status, str(delivery.pk)) == (1, 204, got["delivery"])
    assert delivery.delivered_at is not None


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    ready_case: Case,
    consumer: User,
    tianhe: Organisation,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.COURT_WEBHOOK_BACKOFF_SECONDS = 60
    receiver.fail = 2
    _configure(tianhe, receiver)
    _submit(ready_case, consumer, tianhe, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 503, None)
    first_retry = delivery.next_attempt_at
    assert first_retry is not None

    # Not yet due: nothing is sent, not even by a second cron run holding the delivery.
    assert webhooks.deliver_due(now=first_retry - datetime.timedelta(seconds=1)) == []
    assert webhooks.deliver(delivery, now=first_retry - datetime.timedelta(seconds=1)).attempts == 1
    assert len(receiver.received) == 1
    webhooks.deliver_due(now=first_retry)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.next_attempt_at == first_retry + datetime.timedelta(seconds=120)

    webhooks.deliver_due(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.attempts == 3
    assert [r["delivery"] for r in receiver.received] == [str(delivery.pk)] * 3  # one id: receivers drop repeats
    assert all(r["valid"] for r in receiver.received)
    assert webhooks.deliver_due(now=timezone.now() + datetime.timedelta(days=1)) == []


def test_after_the_last_attempt_it_gives_up_and_tells_the_court(
    ready_case: Case,
    consumer: User,
    tianhe: Organisation,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.COURT_WEBHOOK_MAX_ATTEMPTS = 2
    dead = Receiver()
    dead.close()  # nothing listens there any more
    webhooks.set_webhook(tianhe, dead.url)
    _submit(ready_case, consumer, tianhe, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.last_status is None and delivery.last_error

    with django_capture_on_commit_callbacks(execute=True):
        webhooks.deliver_due(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.given_up_at is not None and delivery.next_attempt_at is None
    clerk = User.objects.get(username="tianhe_clerk")
    assert Notification.objects.filter(recipient=clerk, kind="judicial.webhook_failed").count() == 1


def test_no_webhook_no_delivery_and_a_wrong_secret_is_detectable(
    ready_case: Case, consumer: User, tianhe: Organisation, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _submit(ready_case, consumer, tianhe, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists() and receiver.received == []

    webhooks.set_webhook(tianhe, receiver.url)
    receiver.secret = "not-the-secret"
    application = ConfirmationApplication.objects.get()
    webhooks.announce_submitted(application)
    assert receiver.received and receiver.received[0]["valid"] is False


def test_the_command_reports_what_it_did(db: None) -> None:
    out = StringIO()
    call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip() == "attempted 0, delivered 0, given up 0"
