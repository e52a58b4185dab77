"""Signal receivers of the core app."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from mediation import ledger


@receiver(user_logged_in)
def record_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    ledger.record("mediation.auth.logged_in", actor=user, request=request)


@receiver(user_login_failed)
def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    ledger.record(
        "mediation.auth.login_failed", request=request, data={"username": str(credentials.get("username", ""))[:150]}
    )


@receiver(user_locked_out)
def record_lockout(sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any) -> None:
    ledger.record("mediation.auth.locked_out", request=request, data={"username": username[:150]})
