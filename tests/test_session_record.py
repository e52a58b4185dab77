"""The mediation record (调解笔录): drafting, joint-room statements only (Art 18), the frozen
snapshot, and the parties' online confirmation or objection (Art 22)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from mediation.models import Case, LedgerEntry, User
from sessions import record as records
from sessions.models import MediationRecord, MediationSession, RecordConfirmation, RecordStatement
from sessions.record import RecordError
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

FACTS = "投诉人于2026年3月办理信用卡分期；被投诉机构已收取分期手续费1200元。"


@pytest.fixture
def sitting(mediating_case: Case, consumer: User, bank_agent: User, mediator: User) -> Sitting:
    return held_sitting(mediating_case, consumer=consumer, bank_agent=bank_agent, mediator=mediator)


def _draft(sitting: Sitting, mediator: User, *statements: Any) -> MediationRecord:
    record = records.save_draft(
        sitting.session, actor=mediator, undisputed_facts=FACTS, outcome="partial", outcome_text="双方同意继续协商。"
    )
    for message in statements:
        records.select_statement(sitting.session, message, actor=mediator)
    return record


def _finalised(sitting: Sitting, mediator: User, *statements: Any) -> MediationRecord:
    _draft(sitting, mediator, *statements)
    return records.finalise(sitting.session, actor=mediator)


def _actions(case: Case, prefix: str = "sessions.record.") -> list[str]:
    return list(
        LedgerEntry.objects.filter(case=case, action__startswith=prefix)
        .order_by("seq")
        .values_list("action", flat=True)
    )


# --- statements: the joint room only --------------------------------------------------------------


def test_a_caucus_message_is_refused_and_nothing_changes(sitting: Sitting, mediator: User) -> None:
    record = _draft(sitting, mediator, sitting.joint_consumer)
    before = _actions(sitting.session.case)

    for message in (sitting.caucus_consumer, sitting.caucus_bank):
        with pytest.raises(RecordError) as raised:
            records.select_statement(sitting.session, message, actor=mediator)
        assert raised.value.code == "caucus_message" and raised.value.field == "statements"
    # All or nothing: one refused message refuses the whole selection.
    with pytest.raises(RecordError) as raised:
        records.set_statements(sitting.session, [sitting.joint_bank.pk, sitting.caucus_consumer.pk], actor=mediator)
    assert raised.value.code == "caucus_message"

    assert [s.message for s in record.statements.all()] == [sitting.joint_consumer]
    assert _actions(sitting.session.case) == before


def test_a_caucus_message_cannot_be_written_even_directly(sitting: Sitting, mediator: User) -> None:
    record = _draft(sitting, mediator)
    with pytest.raises(RecordError) as raised:
        RecordStatement.objects.create(record=record, message=sitting.caucus_bank, selected_by=mediator)
    assert raised.value.code == "caucus_message"
    assert not RecordStatement.objects.exists()


def test_a_caucus_message_its_author_released_may_be_selected(sitting: Sitting, mediator: User) -> None:
    statement = records.select_statement(sitting.session, sitting.released_copy.pk, actor=mediator)

    assert statement.message.room == sitting.joint
    assert statement.message.released_from == sitting.caucus_consumer.room.messages.get(body=RELEASED)


def test_system_messages_other_sittings_and_unknown_messages_are_refused(
    sitting: Sitting, mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    later = held_sitting(mediating_case, consumer=consumer, bank_agent=bank_agent, mediator=mediator, number=2)
    cases = [(sitting.system, "not_a_statement"), (later.joint_consumer, "other_sitting"), (999999, "unknown_message")]
    for message, code in cases:
        with pytest.raises(RecordError) as raised:
            records.select_statement(sitting.session, message, actor=mediator)
        assert raised.value.code == code


def test_only_the_sittings_joint_room_statements_are_offered(sitting: Sitting) -> None:
    offered = records.joint_statements(sitting.session)

    assert [m.body for m in offered] == [JOINT_CONSUMER, JOINT_BANK, RELEASED]
    assert all(m.room == sitting.joint for m in offered)


def test_only_the_mediator_drafts(sitting: Sitting, consumer: User, bank_agent: User, case_manager: User) -> None:
    for person in (consumer, bank_agent, case_manager):
        with pytest.raises(RecordError) as raised:
            records.save_draft(sitting.session, actor=person, undisputed_facts="x", outcome="", outcome_text="")
        assert raised.value.code == "not_mediator"
        with pytest.raises(RecordError):
            records.select_statement(sitting.session, sitting.joint_bank, actor=person)
    assert not MediationRecord.objects.exists()


def test_bad_draft_input_is_refused_by_field(sitting: Sitting, mediator: User) -> None:
    for kwargs, field in (
        ({"undisputed_facts": "字" * 5001, "outcome": "", "outcome_text": ""}, "undisputed_facts"),
        ({"undisputed_facts": "", "outcome": "won", "outcome_text": ""}, "outcome"),
        ({"undisputed_facts": "", "outcome": "", "outcome_text": ["x"]}, "outcome_text"),
    ):
        with pytest.raises(RecordError) as raised:
            records.save_draft(sitting.session, actor=mediator, **kwargs)
        assert raised.value.field == field
    assert not MediationRecord.objects.exists()


# --- finalising -------------------------------------------------------------------------------------


def test_the_snapshot_holds_the_sitting_and_only_joint_room_statements(
    sitting: Sitting, mediator: User, consumer: User, bank_agent: User
) -> None:
    record = _finalised(sitting, mediator, sitting.joint_bank, sitting.joint_consumer, sitting.released_copy)

    assert record.state == MediationRecord.State.FINALISED and record.revision == 1
    assert hashlib.sha256(record.snapshot.encode()).hexdigest() == record.snapshot_sha256
    data = json.loads(record.snapshot)
    assert record.snapshot == json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert data["session"]["number"] == 1 and data["session"]["recording_consent"] is True
    assert data["session"]["opened_at"] and data["session"]["closed_at"]
    people = {row["name"]: row for row in data["participants"]}
    assert {name: row["role"] for name, row in people.items()} == {
        "张三": "consumer",
        "赵经理": "institution",
        "吴调解员": "mediator",
    }
    assert all(row["identity_method"] == "sms" and row["identity_verified_at"] for row in people.values())
    assert all(row["warning_acknowledged_at"] and row["joined_at"] and row["left_at"] for row in people.values())
    assert data["undisputed_facts"] == FACTS
    # In the room's order, with author, role, time and number.
    assert [(s["seq"], s["author"], s["author_role"], s["body"]) for s in data["statements"]] == [
        (sitting.joint_consumer.seq, "张三", "consumer", JOINT_CONSUMER),
        (sitting.joint_bank.seq, "赵经理", "institution", JOINT_BANK),
        (sitting.released_copy.seq, "张三", "consumer", RELEASED),
    ]
    assert [s["released_from_caucus"] for s in data["statements"]] == [False, False, True]
    assert all(s["at"] for s in data["statements"])
    assert data["outcome"] == {"kind": "partial", "label": "部分达成一致", "text": "双方同意继续协商。"}
    assert data["finalised_by"] == "吴调解员"
    for secret in (CAUCUS_CONSUMER, CAUCUS_BANK):
        assert secret not in record.snapshot
    entry = LedgerEntry.objects.filter(action="sessions.record.finalised").get()
    assert entry.data["sha256"] == record.snapshot_sha256 and entry.data["statements"] == 3


def test_finalising_needs_a_closed_sitting_and_an_outcome(sitting: Sitting, mediator: User) -> None:
    records.save_draft(sitting.session, actor=mediator, undisputed_facts=FACTS, outcome="", outcome_text="")
    with pytest.raises(RecordError) as raised:
        records.finalise(sitting.session, actor=mediator)
    assert raised.value.code == "outcome_required"

    records.save_draft(sitting.session, actor=mediator, undisputed_facts=FACTS, outcome="adjourned", outcome_text="")
    MediationSession.objects.filter(pk=sitting.session.pk).update(state=MediationSession.State.OPEN)
    with pytest.raises(RecordError) as raised:
        records.finalise(sitting.session, actor=mediator)
    assert raised.value.code == "not_closed"
    assert MediationRecord.objects.get().state == MediationRecord.State.DRAFT


def test_nothing_can_be_edited_after_finalising(sitting: Sitting, mediator: User) -> None:
    record = _finalised(sitting, mediator, sitting.joint_consumer)
    frozen = record.snapshot

    attempts = [
        lambda: records.save_draft(
            sitting.session, actor=mediator, undisputed_facts="改过的事实", outcome="agreement", outcome_text=""
        ),
        lambda: records.select_statement(sitting.session, sitting.joint_bank, actor=mediator),
        lambda: records.unselect_statement(sitting.session, sitting.joint_consumer, actor=mediator),
        lambda: records.set_statements(sitting.session, [], actor=mediator),
        lambda: records.finalise(sitting.session, actor=mediator),
    ]
    for attempt in attempts:
        with pytest.raises(RecordError) as raised:
            attempt()
        assert raised.value.code == "not_draft"
    record.refresh_from_db()
    assert record.snapshot == frozen and record.undisputed_facts == FACTS
    assert record.statements.count() == 1


# --- the parties' answers ----------------------------------------------------------------------------


def test_every_party_confirms_and_the_record_is_confirmed_after_commit(
    sitting: Sitting,
    mediator: User,
    consumer: User,
    bank_agent: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    record = _finalised(sitting, mediator, sitting.joint_consumer)
    received: list[MediationRecord] = []

    def receiver(sender: object, *, record: MediationRecord, **kwargs: Any) -> None:
        received.append(record)

    records.record_confirmed.connect(receiver, dispatch_uid="test-receiver")
    try:
        record = records.confirm(record, user=consumer, password=PASSWORD, ip="203.0.113.9", user_agent="UA/1")
        assert record.state == MediationRecord.State.FINALISED
        assert records.waiting_for(record) == ["institution"]
        with django_capture_on_commit_callbacks() as callbacks:
            record = records.confirm(record, user=bank_agent, password=PASSWORD, ip="203.0.113.10", user_agent="UA/2")
        assert record.state == MediationRecord.State.CONFIRMED and record.confirmed_at
        # The PDF is made after the confirming transaction commits, not inside it.
        assert received == []
        for callback in callbacks:
            callback()
        assert [r.pk for r in received] == [record.pk]
        record.refresh_from_db()
        assert record.is_sealed  # the signing app's receiver rendered and sealed it
    finally:
        records.record_confirmed.disconnect(dispatch_uid="test-receiver")

    answers = records.current_answers(record)
    assert set(answers) == {f"consumer:{consumer.pk}", "institution"}
    assert answers["institution"].user == bank_agent and answers["institution"].ip == "203.0.113.10"
    assert all(a.snapshot_sha256 == record.snapshot_sha256 for a in answers.values())
    confirmed = LedgerEntry.objects.filter(action="sessions.record.confirmed").order_by("seq")
    assert [(e.actor, e.ip, e.data["user_agent"], e.data["reauthenticated"]) for e in confirmed] == [
        (consumer, "203.0.113.9", "UA/1", True),
        (bank_agent, "203.0.113.10", "UA/2", True),
    ]
    assert _actions(sitting.session.case)[-2:] == ["sessions.record.confirmed_by_all", "sessions.record.sealed"]


def test_a_wrong_password_confirms_nothing_and_is_recorded(sitting: Sitting, mediator: User, consumer: User) -> None:
    record = _finalised(sitting, mediator)
    for password in ("wrong", "", None):
        with pytest.raises(RecordError) as raised:
            records.confirm(record, user=consumer, password=password, ip="203.0.113.9")
        assert raised.value.code == "password" and raised.value.field == "password"
    with pytest.raises(RecordError):
        records.object_to(record, user=consumer, password="wrong", objection="不对")

    assert not RecordConfirmation.objects.exists()
    assert LedgerEntry.objects.filter(action="sessions.record.reauthentication_failed").count() == 4
    record.refresh_from_db()
    assert record.state == MediationRecord.State.FINALISED


def test_an_objection_sends_the_record_back_and_a_new_revision_is_answered_afresh(
    sitting: Sitting, mediator: User, consumer: User, bank_agent: User
) -> None:
    record = _finalised(sitting, mediator, sitting.joint_consumer)
    records.confirm(record, user=consumer, password=PASSWORD)
    with pytest.raises(RecordError) as raised:
        records.object_to(record, user=bank_agent, password=PASSWORD, objection="   ")
    assert raised.value.code == "objection_required"

    record = records.object_to(record, user=bank_agent, password=PASSWORD, objection="手续费金额应为一千一百元。")
    assert record.state == MediationRecord.State.DRAFT
    objection = records.current_answers(record)["institution"]
    assert objection.kind == RecordConfirmation.Kind.OBJECTED and objection.objection == "手续费金额应为一千一百元。"
    with pytest.raises(RecordError) as raised:
        records.confirm(record, user=consumer, password=PASSWORD)
    assert raised.value.code == "not_finalised"

    # The mediator corrects and finalises again: revision 2, everyone answers afresh.
    records.save_draft(
        sitting.session, actor=mediator, undisputed_facts="手续费1100元。", outcome="partial", outcome_text=""
    )
    record = records.finalise(sitting.session, actor=mediator)
    assert record.revision == 2 and records.current_answers(record) == {}
    assert records.waiting_for(record) == [f"consumer:{consumer.pk}", "institution"]
    records.confirm(record, user=consumer, password=PASSWORD)
    record = records.confirm(record, user=bank_agent, password=PASSWORD)
    assert record.state == MediationRecord.State.CONFIRMED
    assert RecordConfirmation.objects.count() == 4


def test_only_parties_answer_and_each_side_once(
    sitting: Sitting,
    mediator: User,
    consumer: User,
    bank_agent: User,
    bank_supervisor: User,
    case_manager: User,
    outsider: User,
) -> None:
    record = _finalised(sitting, mediator)
    for person in (mediator, case_manager, outsider):
        with pytest.raises(RecordError) as raised:
            records.confirm(record, user=person, password=PASSWORD)
        assert raised.value.code == "not_a_party"
    records.confirm(record, user=consumer, password=PASSWORD)
    with pytest.raises(RecordError) as raised:
        records.confirm(record, user=consumer, password=PASSWORD)
    assert raised.value.code == "already_answered"
    # The institution answers once, whichever of its agents does it.
    records.object_to(record, user=bank_agent, password=PASSWORD, objection="有误")
    record.refresh_from_db()
    with pytest.raises(RecordError) as raised:
        records.confirm(record, user=bank_supervisor, password=PASSWORD)
    assert raised.value.code == "not_finalised"
    assert RecordConfirmation.objects.count() == 2
