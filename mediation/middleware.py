from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# Pages a staff member with a TOTP device can reach before entering the code.
_OPEN_PATHS = ("/accounts/", "/static/", "/i18n/", "/display/")


class RequireVerifiedStaffMiddleware:
    """Staff who enabled TOTP must enter a code after the password before anything else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(_OPEN_PATHS)
        ):
            from django_otp import user_has_device

            if user_has_device(user):
                return redirect(f"{reverse('otp_verify')}?next={request.get_full_path()}")
        return self.get_response(request)
