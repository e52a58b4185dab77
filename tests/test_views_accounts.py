"""Sign-in, lockout, registration, TOTP and the large-text display mode."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mediation.models import LedgerEntry, Role, User
from tests import factories

PASSWORD = "correct horse battery staple"


def _token(device: TOTPDevice, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0 - offset * device.step, digits=device.digits)
    return str(value).zfill(device.digits)


def _clear_throttle(device: TOTPDevice) -> None:
    """django-otp delays the next try after a wrong code; the tests do not wait for it."""
    device.refresh_from_db()
    device.throttle_reset()


def _registration(**overrides: Any) -> dict[str, str]:
    data = {
        "real_name": "刘晓梅",
        "id_number": factories.resident_id(321, birth="19560312"),
        "phone": "13912345678",
        "email": "xiaomei@example.cn",
        "password1": "春眠不觉晓-1956",
        "password2": "春眠不觉晓-1956",
    }
    data.update(overrides)
    return data


# --- login, home, logout --------------------------------------------------------------------


def test_consumer_logs_in_and_lands_on_my_cases(client: Client, consumer: User) -> None:
    response = client.post(reverse("login"), {"username": "consumer", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"] == reverse("my_cases")


def test_login_page_is_chinese_first(client: Client, db: None) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "手机号码或用户名" in response.content.decode()


def test_wrong_password_shows_form_error_and_does_not_log_in(client: Client, consumer: User) -> None:
    response = client.post(reverse("login"), {"username": "consumer", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("persona", "target"),
    [
        ("consumer", "my_cases"),
        ("bank_agent", "institution_inbox"),
        ("case_manager", "staff:case_list"),
        ("regulator", "staff:statistics"),
    ],
)
def test_home_sends_each_role_to_its_page(client: Client, request: Any, persona: str, target: str) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("home"))["Location"] == reverse(target)


def test_home_shows_a_simple_page_to_roles_without_their_own(client: Client, mediator: User) -> None:
    client.force_login(mediator)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "吴调解员" in response.content.decode()


def test_anonymous_home_goes_to_login(client: Client, db: None) -> None:
    assert client.get(reverse("home"))["Location"] == reverse("login")


def test_logout_is_post_only(client: Client, consumer: User) -> None:
    client.force_login(consumer)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_lockout_after_failure_limit_refuses_even_the_right_password(client: Client, consumer: User) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    for _attempt in range(limit - 1):
        response = client.post(reverse("login"), {"username": "consumer", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(reverse("login"), {"username": "consumer", "password": "wrong"})
    assert response.status_code == 429
    page = response.content.decode()
    assert "账户已暂时锁定" in page
    assert "分钟后" in page

    response = client.post(reverse("login"), {"username": "consumer", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert LedgerEntry.objects.filter(action="mediation.auth.locked_out").exists()


# --- registration ---------------------------------------------------------------------------


def test_registration_creates_a_consumer_logs_in_and_records_it(client: Client, db: None) -> None:
    data = _registration()
    response = client.post(reverse("register"), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")

    user = User.objects.get(username="13912345678")
    assert user.role == Role.CONSUMER
    assert user.real_name == "刘晓梅"
    assert user.reveal_id_number() == data["id_number"]
    assert data["id_number"] not in user.id_number_masked
    assert user.check_password(data["password1"])
    assert str(user.phone) == "+8613912345678"
    assert client.session["_auth_user_id"] == str(user.pk)
    entry = LedgerEntry.objects.get(action="mediation.account.registered")
    assert entry.actor == user
    assert data["id_number"] not in str(entry.data)


def test_registration_rejects_an_invalid_id_number_on_the_field(client: Client, db: None) -> None:
    number = factories.resident_id(321)
    wrong_check_digit = number[:-1] + ("0" if number[-1] != "0" else "1")
    response = client.post(reverse("register"), _registration(id_number=wrong_check_digit))
    assert response.status_code == 200
    assert "身份证号码校验位不正确" in response.context["form"].errors["id_number"][0]
    assert not User.objects.filter(username="13912345678").exists()
    assert "_auth_user_id" not in client.session


def test_registration_rejects_an_id_number_already_registered(client: Client, db: None) -> None:
    client.post(reverse("register"), _registration())
    client.post(reverse("logout"))
    response = client.post(reverse("register"), _registration(phone="13912340000", email="other@example.cn"))
    assert response.status_code == 200
    assert "已注册" in response.context["form"].errors["id_number"][0]
    assert User.objects.filter(role=Role.CONSUMER).count() == 1


def test_registration_rejects_mismatched_passwords_and_a_landline(client: Client, db: None) -> None:
    response = client.post(reverse("register"), _registration(password2="另一个密码-1956", phone="02087654321"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "password2" in errors
    assert "phone" in errors
    assert not User.objects.exists()


# --- two-factor -----------------------------------------------------------------------------


def test_staff_enables_totp_with_a_code_from_the_qr_key(client: Client, case_manager: User) -> None:
    client.force_login(case_manager)
    response = client.get(reverse("otp_setup"))
    assert response.status_code == 200
    assert "<svg" in response.content.decode()
    device = TOTPDevice.objects.get(user=case_manager)
    assert not device.confirmed

    response = client.post(reverse("otp_setup"), {"token": "000000" if _token(device) != "000000" else "111111"})
    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    device.refresh_from_db()
    assert not device.confirmed

    _clear_throttle(device)
    response = client.post(reverse("otp_setup"), {"token": _token(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert LedgerEntry.objects.filter(action="mediation.account.otp_enabled", actor=case_manager).exists()


def test_staff_with_a_device_must_enter_the_code_before_any_page(client: Client, mediator: User) -> None:
    device = TOTPDevice.objects.create(user=mediator, name="phone", confirmed=True)
    client.post(reverse("login"), {"username": "mediator", "password": PASSWORD})

    response = client.get(reverse("my_cases"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("otp_verify"))

    response = client.post(reverse("otp_verify"), {"token": "12345a", "next": reverse("my_cases")})
    assert response.context["form"].errors["token"]
    assert client.get(reverse("my_cases")).status_code == 302

    # A code ten steps away is outside the device's tolerance.
    response = client.post(reverse("otp_verify"), {"token": _token(device, offset=10), "next": reverse("my_cases")})
    assert response.status_code == 200
    assert client.get(reverse("my_cases")).status_code == 302

    _clear_throttle(device)
    response = client.post(reverse("otp_verify"), {"token": _token(device), "next": reverse("my_cases")})
    assert response.status_code == 302
    assert response["Location"] == reverse("my_cases")
    assert client.get(reverse("my_cases")).status_code == 200


def test_otp_verify_ignores_an_offsite_next(client: Client, mediator: User) -> None:
    device = TOTPDevice.objects.create(user=mediator, name="phone", confirmed=True)
    client.force_login(mediator)
    response = client.post(reverse("otp_verify"), {"token": _token(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_otp_verify_requires_login(client: Client, db: None) -> None:
    response = client.get(reverse("otp_verify"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- display mode (在线诉讼规则 Art 2(4)) ------------------------------------------------------


def test_large_text_toggle_sets_cookie_and_class_for_anonymous_visitors(client: Client, db: None) -> None:
    assert 'class="large-text"' not in client.get(reverse("login")).content.decode()
    response = client.post(reverse("display_mode"), {"large_text": "1", "next": reverse("login")})
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert response.cookies["large_text"].value == "1"
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="zh-hans" class="large-text">' in page
    assert '<body class="large-text">' in page

    client.post(reverse("display_mode"), {"large_text": "0", "next": reverse("login")})
    assert 'class="large-text"' not in client.get(reverse("login")).content.decode()


def test_large_text_is_remembered_on_the_account(client: Client, consumer: User) -> None:
    client.force_login(consumer)
    client.post(reverse("display_mode"), {"large_text": "1"})
    consumer.refresh_from_db()
    assert consumer.large_text

    other_device = Client()
    other_device.force_login(consumer)
    assert '<body class="large-text">' in other_device.get(reverse("my_cases")).content.decode()


def test_display_mode_is_post_only_and_stays_on_site(client: Client, db: None) -> None:
    assert client.get(reverse("display_mode")).status_code == 405
    response = client.post(reverse("display_mode"), {"large_text": "1", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_language_switch_offers_english(client: Client, db: None) -> None:
    page = client.get(reverse("login")).content.decode()
    assert 'name="language" value="en"' in page
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en"' in page


def test_navigation_shows_the_links_of_the_role(client: Client, consumer: User, case_manager: User) -> None:
    client.force_login(consumer)
    page = client.get(reverse("my_cases")).content.decode()
    assert f'href="{reverse("file_complaint")}"' in page
    assert f'href="{reverse("staff:case_list")}"' not in page
    assert f'href="{reverse("otp_setup")}"' not in page

    client.force_login(case_manager)
    page = client.get(reverse("my_cases")).content.decode()
    assert f'href="{reverse("staff:case_list")}"' in page
    assert f'href="{reverse("otp_setup")}"' in page
    assert f'href="{reverse("file_complaint")}"' not in page
