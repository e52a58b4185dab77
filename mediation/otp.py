"""One-time codes: a person proves, again, that they hold their verified phone (notes P15: a link is
not identity).

Used before a signature (``sign:<slot>``), before a termination record or court application, and to
check in to a mediation sitting (``session-check-in:<session>``; 在线调解规则 Art 17). It lives in the
core so that every app on its right may use it.

A code is six random digits, bound to one person and one purpose, sent to the verified phone (SMS)
or, failing that, the e-mail address, through the pluggable senders of ``mediation.notifications``
(console by default). Only a keyed hash is stored. A code expires after ``SIGNING_OTP_TTL_SECONDS``,
works once, allows ``SIGNING_OTP_MAX_ATTEMPTS`` wrong tries and only the newest code of a purpose is
valid; at most ``SIGNING_OTP_PER_HOUR`` codes are sent per person and purpose per hour, and not two
within ``RESEND_SECONDS``. (The settings keep their historical ``SIGNING_`` names.)

Failed tries are counted in their own committed transaction, so a caller's rollback cannot
reset the counter.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation.models import OneTimeCode, User
from mediation.notifications import send_sms

RESEND_SECONDS = 60


class CodeError(Exception):
    """A code could not be sent or was not accepted; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hash(user: User, purpose: str, code: str) -> str:
    key = hashlib.sha256(f"otp:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{user.pk}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def mask_destination(channel: str, destination: str) -> str:
    if channel == OneTimeCode.Channel.SMS:
        digits = destination.removeprefix("+86")
        return f"{digits[:3]}****{digits[-4:]}"
    name, _sep, domain = destination.partition("@")
    return f"{name[:1]}***@{domain}"


def _destination(user: User) -> tuple[str, str]:
    if user.phone and user.phone_verified_at:
        return OneTimeCode.Channel.SMS, str(user.phone)
    if user.email:
        return OneTimeCode.Channel.EMAIL, user.email
    if user.phone:
        return OneTimeCode.Channel.SMS, str(user.phone)
    raise CodeError("no_destination", _("您的账户没有已验证的手机号码或电子邮箱，无法接收验证码，请联系调解中心。"))


def send_code(user: User, *, purpose: str, action: str) -> OneTimeCode:
    """Send a fresh code for ``purpose``; ``action`` names what it authorises in the message."""
    now = timezone.now()
    channel, destination = _destination(user)
    with transaction.atomic():
        # Lock the person's row so two clicks cannot both pass the rate limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        recent = OneTimeCode.objects.filter(
            user=user, purpose=purpose, created_at__gte=now - datetime.timedelta(hours=1)
        ).order_by("-created_at")
        if recent.count() >= settings.SIGNING_OTP_PER_HOUR:
            raise CodeError("rate_limited", _("验证码发送过于频繁，请一小时后再试。"))
        latest = recent.first()
        if latest and (now - latest.created_at).total_seconds() < RESEND_SECONDS:
            wait = RESEND_SECONDS - int((now - latest.created_at).total_seconds())
            raise CodeError("too_soon", _("验证码刚刚发送，请 %(seconds)d 秒后再重新获取。") % {"seconds": wait})
        code = f"{secrets.randbelow(10**6):06d}"
        record = OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            channel=channel,
            destination=mask_destination(channel, destination),
            code_hash=_hash(user, purpose, code),
            expires_at=now + datetime.timedelta(seconds=settings.SIGNING_OTP_TTL_SECONDS),
        )
        minutes = max(1, settings.SIGNING_OTP_TTL_SECONDS // 60)
        text = _("【枫桥调解】验证码 %(code)s，用于%(action)s，%(minutes)d 分钟内有效。请勿告诉他人。") % {
            "code": code,
            "action": action,
            "minutes": minutes,
        }
        if channel == OneTimeCode.Channel.SMS:
            transaction.on_commit(lambda: send_sms(destination, text))
        else:
            transaction.on_commit(lambda: send_mail(_("枫桥调解验证码"), text, None, [destination]))
    return record


def check_code(user: User, *, purpose: str, code: str, password_ok: bool = True) -> OneTimeCode:
    """Accept ``code`` once, or raise :class:`CodeError`. Commits its own bookkeeping.

    ``password_ok`` carries the re-authentication that goes with the code: a wrong password
    spends one try of the code, so neither can be guessed without the other running out.
    """
    code = (code or "").strip()
    failure: CodeError | None = None
    with transaction.atomic():
        record = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose)
            .order_by("-created_at", "-pk")
            .first()
        )
        if record is None:
            raise CodeError("no_code", _("请先获取验证码。"))
        if record.used_at is not None:
            raise CodeError("used", _("该验证码已使用过，请重新获取。"))
        if record.expires_at <= timezone.now():
            raise CodeError("expired", _("验证码已过期，请重新获取。"))
        if record.attempts >= settings.SIGNING_OTP_MAX_ATTEMPTS:
            raise CodeError("locked", _("验证码错误次数过多，已失效，请重新获取。"))
        matches = (
            len(code) == 6 and code.isdigit() and hmac.compare_digest(record.code_hash, _hash(user, purpose, code))
        )
        if not (matches and password_ok):
            record.attempts += 1
            record.save(update_fields=["attempts"])
            left = settings.SIGNING_OTP_MAX_ATTEMPTS - record.attempts
            if not password_ok:
                failure = CodeError("password", _("登录密码不正确，还可尝试 %(left)d 次。") % {"left": left})
            else:
                failure = CodeError("wrong", _("验证码不正确，还可尝试 %(left)d 次。") % {"left": left})
        else:
            record.used_at = timezone.now()
            record.save(update_fields=["used_at"])
    if failure:
        raise failure
    return record
