"""Sign-in, registration, two-factor codes, the role-based landing page and display preferences."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import django_otp
import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from mediation import ledger
from mediation.forms import ConsumerRegistrationForm, OtpTokenForm
from mediation.models import Role, User

LARGE_TEXT_COOKIE = "large_text"
LARGE_TEXT_COOKIE_AGE = 365 * 24 * 3600


class AuthenticatedRequest(HttpRequest):
    """For type checking only: behind ``login_required`` the user is one of ours, never anonymous."""

    user: User


_ROLE_HOME: dict[str, str] = {
    Role.CONSUMER: "my_cases",
    Role.INSTITUTION_AGENT: "institution_inbox",
    Role.CASE_MANAGER: "staff:case_list",
    Role.REGULATOR: "staff:statistics",
    Role.COURT_CLERK: "judicial:court_inbox",
}


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, require_https=request.is_secure()):
        return value
    return reverse("home")


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its own starting page; anonymous visitors to the sign-in page."""
    if not request.user.is_authenticated:
        return redirect("login")
    name = _ROLE_HOME.get(request.user.role)
    if name:
        return redirect(name)
    return render(request, "mediation/accounts/home.html")


@require_POST
def display_mode(request: HttpRequest) -> HttpResponse:
    """在线诉讼规则 Art 2(4): older users and people with low vision may switch to large, high-contrast text."""
    enabled = request.POST.get("large_text") == "1"
    if request.user.is_authenticated and request.user.large_text != enabled:
        request.user.large_text = enabled
        request.user.save(update_fields=["large_text"])
    response = HttpResponseRedirect(_safe_next(request, request.POST.get("next")))
    response.set_cookie(
        LARGE_TEXT_COOKIE, "1" if enabled else "0", max_age=LARGE_TEXT_COOKIE_AGE, samesite="Lax", httponly=True
    )
    return response


def register(request: HttpRequest) -> HttpResponse:
    """Consumer self-registration with real name and resident ID (在线调解规则 Art 8)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = ConsumerRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = _create_consumer(request, data, form.login_name(data["phone"]))
        except IntegrityError:
            # Someone registered the same ID number or phone between the form check and the save.
            form.add_error(None, _("该身份证号码或手机号码已注册。"))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("注册成功。您的登录名是手机号码 %(phone)s。") % {"phone": user.username})
            return redirect("home")
    return render(request, "registration/register.html", {"form": form})


def _create_consumer(request: HttpRequest, data: dict[str, Any], username: str) -> User:
    with transaction.atomic():
        user = User(
            username=username,
            role=Role.CONSUMER,
            real_name=data["real_name"],
            phone=data["phone"],
            email=data["email"],
        )
        user.set_password(data["password1"])
        user.set_id_number(data["id_number"])
        user.save()
        ledger.record(
            "mediation.account.registered",
            actor=user,
            ip=_client_ip(request),
            data={"user": user.pk, "role": user.role, "id_number": user.id_number_masked},
        )
    return user


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


@login_required
def otp_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Enrol a TOTP authenticator: show the key as a QR code, then confirm with a first code."""
    if request.user.role == Role.CONSUMER:
        return redirect("home")
    confirmed = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if confirmed is not None:
        return render(request, "mediation/accounts/otp_setup.html", {"enabled": True})
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name=_("身份验证器"), confirmed=False)
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            form.add_error("token", _("验证码错误次数过多，请稍后再试。"))
        elif device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)
            ledger.record("mediation.account.otp_enabled", actor=request.user, ip=_client_ip(request))
            messages.success(request, _("两步验证已启用，今后登录时需要输入动态验证码。"))
            return redirect("home")
        else:
            form.add_error("token", _("验证码不正确，请确认手机时间准确后重新输入。"))
    context = {
        "enabled": False,
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": b32encode(device.bin_key).decode(),
    }
    return render(request, "mediation/accounts/otp_setup.html", context)


@login_required
def otp_verify(request: AuthenticatedRequest) -> HttpResponse:
    """The second step of signing in for staff with an authenticator."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    # OTPMiddleware gives every user is_verified(); the stubs do not know it.
    if device is None or request.user.is_verified():  # type: ignore[attr-defined]
        return redirect(next_url)
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            form.add_error("token", _("验证码错误次数过多，请稍后再试。"))
        elif device.verify_token(form.cleaned_data["token"]):
            django_otp.login(request, device)
            return redirect(next_url)
        else:
            ledger.record("mediation.account.otp_failed", actor=request.user, ip=_client_ip(request))
            form.add_error("token", _("验证码不正确，请重新输入。"))
    return render(request, "registration/otp_verify.html", {"form": form, "next": next_url})
