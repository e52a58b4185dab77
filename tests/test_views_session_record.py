"""The mediation record page: the mediator drafts, ticks joint-room statements and finalises; the
parties confirm or object; everyone on the case reads it; outsiders get 404 on every URL."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation.models import Case, User
from sessions import record as records
from sessions.models import MediationRecord, RecordConfirmation
from tests.record_helpers import (
    CAUCUS_BANK,
    CAUCUS_CONSUMER,
    JOINT_BANK,
    JOINT_CONSUMER,
    RELEASED,
    Sitting,
    held_sitting,
)
from tests.signing_helpers import PASSWORD

pytestmark = pytest.mark.django_db

NAMES = ["record", "record_save", "record_finalise", "record_confirm", "record_object", "record_pdf"]


@pytest.fixture
def sitting(mediating_case: Case, consumer: User, bank_agent: User, mediator: User) -> Sitting:
    return held_sitting(mediating_case, consumer=consumer, bank_agent=bank_agent, mediator=mediator)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, sitting: Sitting) -> str:
    return reverse(f"sessions:{name}", kwargs={"session_pk": sitting.session.pk})


def _save(client: Client, sitting: Sitting, statements: list[int], **fields: str) -> Any:
    data = {"undisputed_facts": "已收取手续费1200元。", "outcome": "partial", "outcome_text": "", **fields}
    return client.post(_url("record_save", sitting), {**data, "statements": [str(pk) for pk in statements]})


def _finalised(sitting: Sitting, mediator: User) -> MediationRecord:
    records.save_record(
        sitting.session,
        actor=mediator,
        undisputed_facts="已收取手续费1200元。",
        outcome="partial",
        outcome_text="",
        statements=[sitting.joint_consumer.pk],
    )
    return records.finalise(sitting.session, actor=mediator)


def test_outsiders_get_404_on_every_url_whatever_the_method(
    sitting: Sitting, mediator: User, consumer: User, bank_agent: User, outsider: User, other_bank_agent: User
) -> None:
    record = _finalised(sitting, mediator)
    records.confirm(record, user=consumer, password=PASSWORD)
    records.confirm(record, user=bank_agent, password=PASSWORD)
    for person in (outsider, other_bank_agent):
        client = _client(person)
        for name in NAMES:
            for method in ("get", "post", "put"):
                response = getattr(client, method)(_url(name, sitting))
                assert response.status_code == 404, (person, name, method)
    missing = reverse("sessions:record", kwargs={"session_pk": 999999})
    assert _client(consumer).get(missing).status_code == 404
    assert Client().get(_url("record", sitting)).status_code == 302  # to the login page


def test_the_mediator_sees_joint_room_statements_only(sitting: Sitting, mediator: User) -> None:
    page = _client(mediator).get(_url("record", sitting)).content.decode()

    for said in (JOINT_CONSUMER, JOINT_BANK, RELEASED):
        assert said in page
    for secret in (CAUCUS_CONSUMER, CAUCUS_BANK):
        assert secret not in page
    assert f'value="{sitting.caucus_consumer.pk}"' not in page


def test_ticking_a_caucus_message_is_refused_with_a_field_error(sitting: Sitting, mediator: User) -> None:
    client = _client(mediator)
    response = _save(client, sitting, [sitting.joint_bank.pk, sitting.caucus_consumer.pk])

    assert response.status_code == 400
    assert "单方会谈中的发言不能写入调解笔录" in response.content.decode()
    assert not MediationRecord.objects.exists()  # all or nothing
    assert CAUCUS_CONSUMER not in response.content.decode()
    assert _save(client, sitting, ["abc"]).status_code == 400  # type: ignore[list-item]


def test_the_mediator_saves_ticks_and_finalises(sitting: Sitting, mediator: User, consumer: User) -> None:
    client = _client(mediator)
    response = _save(client, sitting, [sitting.joint_consumer.pk, sitting.released_copy.pk])
    assert response.status_code == 302
    record = MediationRecord.objects.get()
    assert sorted(record.statements.values_list("message_id", flat=True)) == sorted(
        [sitting.joint_consumer.pk, sitting.released_copy.pk]
    )
    # Unticking removes a statement.
    assert _save(client, sitting, [sitting.joint_consumer.pk]).status_code == 302
    assert list(record.statements.values_list("message_id", flat=True)) == [sitting.joint_consumer.pk]

    assert client.post(_url("record_finalise", sitting)).status_code == 302
    record.refresh_from_db()
    assert record.state == MediationRecord.State.FINALISED
    page = _client(consumer).get(_url("record", sitting)).content.decode()
    assert JOINT_CONSUMER in page and "确认笔录内容无误" in page and record.snapshot_sha256 in page


def test_editing_after_finalising_is_refused(sitting: Sitting, mediator: User) -> None:
    record = _finalised(sitting, mediator)
    client = _client(mediator)

    response = _save(client, sitting, [sitting.joint_bank.pk], undisputed_facts="改过的事实")
    assert response.status_code == 400
    assert "调解笔录已定稿，不能再修改" in response.content.decode()
    assert client.post(_url("record_finalise", sitting)).status_code == 400
    record.refresh_from_db()
    assert record.undisputed_facts == "已收取手续费1200元。" and record.revision == 1


def test_parties_may_not_edit(sitting: Sitting, consumer: User, bank_agent: User, case_manager: User) -> None:
    for person in (consumer, bank_agent, case_manager):
        client = _client(person)
        assert _save(client, sitting, [sitting.joint_bank.pk]).status_code == 403
        assert client.post(_url("record_finalise", sitting)).status_code == 403
        assert client.get(_url("record", sitting)).status_code == 200
    assert not MediationRecord.objects.exists()


def test_a_party_confirms_with_the_password(sitting: Sitting, mediator: User, consumer: User) -> None:
    _finalised(sitting, mediator)
    client = _client(consumer)

    wrong = client.post(_url("record_confirm", sitting), {"password": "wrong"}, HTTP_USER_AGENT="Test/1")
    assert wrong.status_code == 400 and "登录密码不正确" in wrong.content.decode()
    assert client.post(_url("record_confirm", sitting), {}).status_code == 400
    assert not RecordConfirmation.objects.exists()

    right = client.post(_url("record_confirm", sitting), {"password": PASSWORD}, HTTP_USER_AGENT="Test/1")
    assert right.status_code == 302
    answer = RecordConfirmation.objects.get()
    assert (answer.user, answer.kind, answer.user_agent, answer.ip) == (consumer, "confirmed", "Test/1", "127.0.0.1")
    # Answered: no second form.
    assert "确认笔录内容无误" not in client.get(_url("record", sitting)).content.decode()


def test_a_party_objects_and_the_mediator_sees_it(sitting: Sitting, mediator: User, bank_agent: User) -> None:
    _finalised(sitting, mediator)
    client = _client(bank_agent)
    empty = client.post(_url("record_object", sitting), {"password": PASSWORD, "objection": ""})
    assert empty.status_code == 400
    response = client.post(_url("record_object", sitting), {"password": PASSWORD, "objection": "金额应为1100元。"})
    assert response.status_code == 302
    assert MediationRecord.objects.get().state == MediationRecord.State.DRAFT

    page = _client(mediator).get(_url("record", sitting)).content.decode()
    assert "金额应为1100元。" in page and 'id="record-form"' in page


def test_the_mediator_cannot_confirm(sitting: Sitting, mediator: User) -> None:
    _finalised(sitting, mediator)
    response = _client(mediator).post(_url("record_confirm", sitting), {"password": PASSWORD})
    assert response.status_code == 400 and "只有本案当事人可以确认调解笔录" in response.content.decode()


def test_the_pdf_is_404_until_sealed(sitting: Sitting, mediator: User, consumer: User) -> None:
    client = _client(consumer)
    assert client.get(_url("record_pdf", sitting)).status_code == 404
    _finalised(sitting, mediator)
    assert client.get(_url("record_pdf", sitting)).status_code == 404


def test_the_case_page_lists_each_sitting_and_what_awaits_the_party(
    sitting: Sitting, mediator: User, consumer: User, case_manager: User
) -> None:
    case_url = reverse("case_detail", kwargs={"pk": sitting.session.case.pk})
    page = _client(consumer).get(case_url).content.decode()
    assert _url("record", sitting) in page and "尚未制作" in page and "待您确认" not in page

    _finalised(sitting, mediator)
    assert "待您确认" in _client(consumer).get(case_url).content.decode()
    manager_page = _client(case_manager).get(case_url).content.decode()
    assert _url("record", sitting) in manager_page and "待您确认" not in manager_page
