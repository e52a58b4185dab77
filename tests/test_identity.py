"""Resident ID numbers (GB 11643), credit codes (GB 32100), masking, and encryption at rest."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from stdnum.cn import ric

from mediation import identity
from mediation.models import Organisation, Role, User
from tests import factories

# The example number printed in GB 11643 itself.
STANDARD_EXAMPLE = "11010519491231002X"


def with_check_digit(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


def rejection_code(value: str) -> str:
    with pytest.raises(ValidationError) as refused:
        identity.validate_resident_id(value)
    return str(refused.value.code)


# --- GB 11643 ------------------------------------------------------------------------------------


def test_valid_numbers_are_accepted() -> None:
    assert identity.validate_resident_id(STANDARD_EXAMPLE) == STANDARD_EXAMPLE
    number = factories.resident_id(7, birth="20000229")
    assert identity.validate_resident_id(number) == number


def test_lowercase_x_is_accepted_and_normalised() -> None:
    assert identity.validate_resident_id("11010519491231002x") == STANDARD_EXAMPLE


def test_spaces_are_ignored() -> None:
    assert identity.validate_resident_id(" 110105 19491231 002X ") == STANDARD_EXAMPLE


def test_wrong_check_digit_is_rejected() -> None:
    assert rejection_code("110105194912310021") == "checksum"


@pytest.mark.parametrize("birth", ["19991332", "19990230", "20230229", "19990001"])
def test_impossible_birth_date_is_rejected_even_with_a_correct_check_digit(birth: str) -> None:
    assert rejection_code(with_check_digit(f"110105{birth}123")) == "birth_date"


def test_future_birth_date_is_rejected() -> None:
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert rejection_code(with_check_digit(f"110105{tomorrow:%Y%m%d}123")) == "birth_date"


def test_birth_before_1900_is_rejected() -> None:
    assert rejection_code(with_check_digit("11010518991231123")) == "birth_date"


@pytest.mark.parametrize("value", ["", "11010519491231002", "11010519491231002X1", "110105194912310"])
def test_wrong_length_is_rejected(value: str) -> None:
    assert rejection_code(value) == "length"


@pytest.mark.parametrize("value", ["11010519491231A02X", "11010519491231002Y"])
def test_letters_other_than_a_final_x_are_rejected(value: str) -> None:
    assert rejection_code(value) == "format"


def test_rejection_messages_are_readable_chinese() -> None:
    with pytest.raises(ValidationError) as refused:
        identity.validate_resident_id("110105194912310021")
    assert "校验位" in refused.value.messages[0]


# --- GB 32100 ------------------------------------------------------------------------------------


def test_credit_code_with_correct_check_character_is_accepted() -> None:
    code = factories.credit_code(42)
    assert identity.validate_credit_code(code) == code
    assert identity.validate_credit_code(code.lower()) == code


def test_credit_code_with_wrong_check_character_is_rejected() -> None:
    code = factories.credit_code(42)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(ValidationError) as refused:
        identity.validate_credit_code(wrong)
    assert refused.value.code == "checksum"


@pytest.mark.parametrize("value", ["", "91110000", "9111000012345678901"])
def test_malformed_credit_code_is_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        identity.validate_credit_code(value)
    assert refused.value.code == "format"


def test_organisation_form_validation_uses_the_credit_code_check(db: None) -> None:
    code = factories.credit_code(43)
    organisation = Organisation(
        kind=Organisation.Kind.INSTITUTION, name="测试银行", institution_type="bank", credit_code=code[:-1] + "Z"
    )
    with pytest.raises(ValidationError) as refused:
        organisation.full_clean()
    assert "credit_code" in refused.value.message_dict


# --- masking ---------------------------------------------------------------------------------------


def test_mask_keeps_region_prefix_and_last_four() -> None:
    masked = identity.mask_id_number("110105198001011234")
    assert masked == "110***********1234"
    assert len(masked) == 18 and masked.count("*") == 11


def test_short_values_are_masked_entirely() -> None:
    assert identity.mask_id_number("1234567") == "*******"


# --- encryption at rest ---------------------------------------------------------------------------


def make_person(username: str, number: str) -> User:
    person = User(username=username, role=Role.CONSUMER)
    person.set_id_number(number)
    person.save()
    return person


def test_database_row_holds_neither_the_number_nor_its_middle_digits(db: None) -> None:
    number = factories.resident_id(321, birth="19761103", region="440106")
    person = make_person("encrypted", number)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {User._meta.db_table} WHERE id = %s", [person.pk])  # noqa: S608
        row = cursor.fetchone()
    stored = " ".join(str(value) for value in row)

    assert number not in stored
    assert number[6:14] not in stored  # the birth date
    assert number[3:14] not in stored
    assert person.id_number_masked in stored


def test_reveal_round_trips(db: None) -> None:
    number = factories.resident_id(322)
    person = make_person("reveal", number)

    assert User.objects.get(pk=person.pk).reveal_id_number() == number
    assert User(username="nobody").reveal_id_number() == ""


def test_rotated_key_still_decrypts_old_numbers_and_encrypts_with_the_new(db: None, settings: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    number = factories.resident_id(323)
    settings.IDENTITY_KEYS = [old_key]
    before_rotation = make_person("before_rotation", number)

    settings.IDENTITY_KEYS = [new_key, old_key]

    assert User.objects.get(pk=before_rotation.pk).reveal_id_number() == number
    token = identity.encrypt_id_number(number)
    assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == number
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(token.encode())


def test_dropped_key_no_longer_decrypts(db: None, settings: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.IDENTITY_KEYS = [old_key]
    person = make_person("dropped", factories.resident_id(324))

    settings.IDENTITY_KEYS = [new_key]

    with pytest.raises(ValueError, match="cannot be decrypted"):
        User.objects.get(pk=person.pk).reveal_id_number()


def test_lookup_digest_survives_key_rotation(db: None, settings: Any) -> None:
    """Otherwise stored digests stop matching and a second account with the same number gets in."""
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    number = factories.resident_id(325)
    settings.IDENTITY_KEYS = [old_key]
    make_person("first_account", number)

    settings.IDENTITY_KEYS = [new_key, old_key]

    assert User.objects.filter(id_number_digest=identity.id_number_digest(number)).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_person("second_account", number)


def test_configured_lookup_key_decouples_the_digest_from_the_encryption_keys(settings: Any) -> None:
    number = factories.resident_id(326)
    settings.IDENTITY_LOOKUP_KEY = "lookup-secret"
    settings.IDENTITY_KEYS = [Fernet.generate_key().decode()]
    digest = identity.id_number_digest(number)

    settings.IDENTITY_KEYS = [Fernet.generate_key().decode()]

    assert identity.id_number_digest(number) == digest
    settings.IDENTITY_LOOKUP_KEY = "another-secret"
    assert identity.id_number_digest(number) != digest


def test_changing_the_setting_resets_the_cached_keys(settings: Any) -> None:
    settings.IDENTITY_KEYS = [Fernet.generate_key().decode()]
    token = identity.encrypt_id_number("x")

    settings.IDENTITY_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(ValueError):
        identity.decrypt_id_number(token)


def test_same_id_number_cannot_open_a_second_account(consumer: User) -> None:
    number = consumer.reveal_id_number()

    with pytest.raises(IntegrityError), transaction.atomic():
        make_person("duplicate", number)


def test_accounts_without_an_id_number_do_not_collide(db: None) -> None:
    User.objects.create(username="agent_one", role=Role.INSTITUTION_AGENT)
    User.objects.create(username="agent_two", role=Role.INSTITUTION_AGENT)
    assert User.objects.filter(id_number_digest="").count() == 2
