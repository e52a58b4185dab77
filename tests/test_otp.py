"""One-time codes (signatures, court applications, session check-in): single use, expiry, tries, limits."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from mediation import otp
from mediation.models import OneTimeCode, User
from mediation.notifications import MemorySmsBackend
from tests.signing_helpers import last_code

PURPOSE = "sign:1"


@pytest.fixture(autouse=True)
def _clean_outboxes() -> None:
    MemorySmsBackend.outbox.clear()


def send(user: User, django_capture_on_commit_callbacks: Any) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        otp.send_code(user, purpose=PURPOSE, action="测试")
    return last_code(user)


def test_code_goes_by_email_when_the_phone_is_not_verified(
    consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    code = send(consumer, django_capture_on_commit_callbacks)
    record = OneTimeCode.objects.get(user=consumer)
    assert record.channel == OneTimeCode.Channel.EMAIL
    assert code not in record.code_hash and len(record.code_hash) == 64
    assert record.destination.endswith("@example.cn") and consumer.email not in record.destination


def test_code_goes_by_sms_to_a_verified_phone(consumer: User, django_capture_on_commit_callbacks: Any) -> None:
    consumer.phone_verified_at = timezone.now()
    consumer.save()
    send(consumer, django_capture_on_commit_callbacks)
    record = OneTimeCode.objects.get(user=consumer)
    assert record.channel == OneTimeCode.Channel.SMS
    assert MemorySmsBackend.outbox[-1][0] == str(consumer.phone)
    assert "****" in record.destination and str(consumer.phone)[-4:] == record.destination[-4:]


def test_a_right_code_works_once(consumer: User, django_capture_on_commit_callbacks: Any) -> None:
    code = send(consumer, django_capture_on_commit_callbacks)
    assert otp.check_code(consumer, purpose=PURPOSE, code=code).used_at is not None
    with pytest.raises(otp.CodeError) as replay:
        otp.check_code(consumer, purpose=PURPOSE, code=code)
    assert replay.value.code == "used"


def test_a_code_is_bound_to_its_person_and_purpose(
    consumer: User, other_consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    code = send(consumer, django_capture_on_commit_callbacks)
    with pytest.raises(otp.CodeError) as other_person:
        otp.check_code(other_consumer, purpose=PURPOSE, code=code)
    assert other_person.value.code == "no_code"
    with pytest.raises(otp.CodeError) as other_purpose:
        otp.check_code(consumer, purpose="sign:2", code=code)
    assert other_purpose.value.code == "no_code"


def test_an_expired_code_is_refused(consumer: User, django_capture_on_commit_callbacks: Any) -> None:
    code = send(consumer, django_capture_on_commit_callbacks)
    OneTimeCode.objects.filter(user=consumer).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(otp.CodeError) as expired:
        otp.check_code(consumer, purpose=PURPOSE, code=code)
    assert expired.value.code == "expired"


def test_wrong_tries_are_counted_and_then_the_code_dies(
    consumer: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SIGNING_OTP_MAX_ATTEMPTS = 3
    code = send(consumer, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (2, 1, 0):
        with pytest.raises(otp.CodeError) as error:
            otp.check_code(consumer, purpose=PURPOSE, code=wrong)
        assert error.value.code == "wrong" and str(left) in error.value.message
    with pytest.raises(otp.CodeError) as locked:
        otp.check_code(consumer, purpose=PURPOSE, code=code)
    assert locked.value.code == "locked"


def test_a_wrong_password_spends_a_try_of_the_right_code(
    consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    code = send(consumer, django_capture_on_commit_callbacks)
    with pytest.raises(otp.CodeError) as error:
        otp.check_code(consumer, purpose=PURPOSE, code=code, password_ok=False)
    assert error.value.code == "password"
    record = OneTimeCode.objects.get(user=consumer)
    assert record.attempts == 1 and record.used_at is None
    assert otp.check_code(consumer, purpose=PURPOSE, code=code).pk == record.pk


def test_only_the_newest_code_counts(
    consumer: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    codes = iter([111111, 222222])
    monkeypatch.setattr(otp.secrets, "randbelow", lambda _bound: next(codes))
    first = send(consumer, django_capture_on_commit_callbacks)
    OneTimeCode.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    second = send(consumer, django_capture_on_commit_callbacks)
    assert (first, second) == ("111111", "222222")
    with pytest.raises(otp.CodeError):
        otp.check_code(consumer, purpose=PURPOSE, code=first)
    assert otp.check_code(consumer, purpose=PURPOSE, code=second).used_at is not None


def test_resending_too_soon_and_too_often_is_refused(
    consumer: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SIGNING_OTP_PER_HOUR = 2
    send(consumer, django_capture_on_commit_callbacks)
    with pytest.raises(otp.CodeError) as soon:
        otp.send_code(consumer, purpose=PURPOSE, action="测试")
    assert soon.value.code == "too_soon"
    OneTimeCode.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    send(consumer, django_capture_on_commit_callbacks)
    OneTimeCode.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    with pytest.raises(otp.CodeError) as often:
        otp.send_code(consumer, purpose=PURPOSE, action="测试")
    assert often.value.code == "rate_limited"
    assert OneTimeCode.objects.count() == 2


def test_no_destination_is_a_clear_error(consumer: User) -> None:
    consumer.email = ""
    consumer.phone = ""
    consumer.save()
    with pytest.raises(otp.CodeError) as error:
        otp.send_code(consumer, purpose=PURPOSE, action="测试")
    assert error.value.code == "no_destination"
    assert not OneTimeCode.objects.exists()
