"""Real-name identity: resident ID numbers (GB 11643) and organisation codes (GB 32100).

ID numbers are encrypted at rest with Fernet (key from ``IDENTITY_KEYS`` or generated under
``var/keys``), looked up through a keyed hash, and shown masked everywhere. Decrypting is a
named, audited act: only documents that legally need the full number call ``reveal_id_number``.

Key rotation: put the new key first in ``IDENTITY_KEYS`` and keep the old ones after it; new
ciphertexts use the first key, every listed key still decrypts. The look-up hash must not
change when keys rotate (stored digests would stop matching and the uniqueness check would let
a second account in), so it is keyed by ``IDENTITY_LOOKUP_KEY`` when set, else by the *last*
listed key, the one the deployment started with.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc


def validate_resident_id(value: str) -> str:
    """Return the normalised 18-character number or raise a ValidationError saying what is wrong."""
    # People paste numbers grouped as printed ("110105 19491231 002X").
    number = "".join((value or "").split()).upper()
    if len(number) != 18:
        raise ValidationError(_("身份证号码应为18位。"), code="length")
    if not number[:17].isdigit() or number[17] not in "0123456789X":
        raise ValidationError(_("身份证号码应为17位数字加1位数字或X。"), code="format")
    try:
        birth = ric.get_birth_date(number)
    except (stdnum_errors.ValidationError, ValueError):
        raise ValidationError(_("身份证号码中的出生日期无效。"), code="birth_date") from None
    if birth > timezone.localdate() or birth < datetime.date(1900, 1, 1):
        raise ValidationError(_("身份证号码中的出生日期无效。"), code="birth_date")
    if ric.calc_check_digit(number) != number[-1]:
        raise ValidationError(_("身份证号码校验位不正确，请核对。"), code="checksum")
    return number


def validate_credit_code(value: str) -> str:
    """Unified social credit code (统一社会信用代码), GB 32100 check character."""
    try:
        return uscc.validate(value or "")
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(_("统一社会信用代码校验位不正确。"), code="checksum") from None
    except stdnum_errors.ValidationError:
        raise ValidationError(_("统一社会信用代码应为18位字母或数字。"), code="format") from None


def mask_id_number(number: str) -> str:
    """110***********1234: region prefix and last four only."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


@cache
def _identity_keys() -> tuple[bytes, ...]:
    if settings.IDENTITY_KEYS:
        return tuple(key.encode() for key in settings.IDENTITY_KEYS)
    path = settings.VAR_DIR / "keys" / "identity.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
    return (path.read_bytes().strip(),)


def reset_identity_keys() -> None:
    """Forget the cached keys so the next call reads the settings (and key file) again."""
    _identity_keys.cache_clear()
    _lookup_key.cache_clear()


@receiver(setting_changed)
def _identity_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"IDENTITY_KEYS", "IDENTITY_LOOKUP_KEY", "VAR_DIR"}:
        reset_identity_keys()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _identity_keys()])


def encrypt_id_number(number: str) -> str:
    return _fernet().encrypt(number.encode()).decode()


def decrypt_id_number(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("identity ciphertext cannot be decrypted with the configured keys") from None


def id_number_digest(number: str) -> str:
    """Keyed hash for uniqueness and look-up without decrypting every row."""
    return hmac.new(_lookup_key(), number.encode(), hashlib.sha256).hexdigest()


@cache
def _lookup_key() -> bytes:
    configured = getattr(settings, "IDENTITY_LOOKUP_KEY", "")
    secret = configured.encode() if configured else _identity_keys()[-1]
    return hashlib.sha256(b"fengqiao-id-lookup:" + secret).digest()
