"""Drafting services: who may start, edit, comment and finalise, in which state; versions, ledger, diffs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mediation import services
from mediation.models import Case, CaseState, LedgerEntry, Notification, User
from signing import drafting
from signing import terms as agreement_terms
from signing.drafting import DraftingError
from signing.models import Agreement, AgreementVersion, DisputeTemplate, SigningEvent, VersionComment
from tests.case_state import fresh, last_entry, notified, snapshot


def in_days(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def put_in_state(case: Case, state: str) -> Case:
    Case.objects.filter(pk=case.pk).update(state=state)
    case.refresh_from_db()
    return case


def plan(amount: str = "1200.00", *parts: tuple[int, str]) -> dict[str, Any]:
    rows = parts or ((10, "600.00"), (40, "600.00"))
    return {
        "payment_amount": amount,
        "instalments": [{"due": in_days(offset), "amount": part} for offset, part in rows],
        "confidentiality": True,
        "judicial_confirmation_consent": True,
    }


@pytest.fixture
def agreement(mediating_case: Case, mediator: User) -> Agreement:
    return drafting.start_agreement(mediating_case, actor=mediator)


def save(agreement: Agreement, actor: User, **changes: Any) -> AgreementVersion:
    latest = agreement.versions.order_by("-number").first()
    assert latest is not None
    fields: dict[str, Any] = {"facts": latest.facts, "dispute": latest.dispute, "terms": plan(), **changes}
    return drafting.save_version(agreement, actor=actor, **fields)


def drafting_counts() -> tuple[int, int, int, int, int]:
    return (
        Agreement.objects.count(),
        AgreementVersion.objects.count(),
        VersionComment.objects.count(),
        SigningEvent.objects.count(),
        LedgerEntry.objects.filter(action__startswith="signing.").count(),
    )


# --- starting --------------------------------------------------------------------------------------


def test_mediator_starts_the_agreement_from_the_case_template(
    mediating_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        agreement = drafting.start_agreement(mediating_case, actor=mediator, ip="10.0.0.8")
    assert agreement.template == DisputeTemplate.CREDIT_CARD
    assert agreement.state == Agreement.State.DRAFTING and not agreement.is_frozen
    first = agreement.versions.get()
    assert first.number == 1 and first.author == mediator
    assert mediating_case.description in first.facts
    assert first.terms == agreement_terms.clean_terms(first.terms)
    assert first.content_hash == agreement_terms.content_hash(first.facts, first.dispute, first.terms)
    entry = last_entry("signing.agreement.started")
    assert entry.case_id == mediating_case.pk and entry.actor == mediator and entry.ip == "10.0.0.8"
    assert entry.data["content_hash"] == first.content_hash and entry.data["template"] == "credit_card"
    assert notified("signing.agreement.version") == {"consumer", "bank_agent"}


def test_short_code_is_eight_unambiguous_characters(agreement: Agreement) -> None:
    assert len(agreement.short_code) == 8
    assert set(agreement.short_code) <= set(drafting.SHORT_CODE_ALPHABET)
    codes = {drafting.new_short_code() for _ in range(300)}
    assert len(codes) == 300
    assert not set("".join(codes)) & set("0O1I")


def test_a_chosen_template_is_used(mediating_case: Case, mediator: User) -> None:
    agreement = drafting.start_agreement(mediating_case, actor=mediator, template=DisputeTemplate.GENERAL)
    assert agreement.template == DisputeTemplate.GENERAL
    assert agreement.versions.get().terms["waivers"] == []


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "case_manager", "other_mediator", "outsider"])
def test_only_a_mediator_of_the_case_starts_the_agreement(
    mediating_case: Case, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    before, counts = snapshot(mediating_case), drafting_counts()
    with pytest.raises(DraftingError, match="只有本案的调解员"):
        drafting.start_agreement(mediating_case, actor=user)
    assert snapshot(mediating_case) == before and drafting_counts() == counts


@pytest.mark.parametrize("state", [CaseState.AWAITING_MEDIATOR, CaseState.AGREEMENT_EFFECTIVE, CaseState.TERMINATED])
def test_the_agreement_is_started_only_while_mediating(mediating_case: Case, mediator: User, state: str) -> None:
    put_in_state(mediating_case, state)
    with pytest.raises(DraftingError, match="只有在调解中"):
        drafting.start_agreement(mediating_case, actor=fresh(mediator))
    assert not Agreement.objects.exists()


def test_a_second_agreement_is_refused(agreement: Agreement, mediator: User, other_mediator: User) -> None:
    with pytest.raises(DraftingError, match="已有调解协议"):
        drafting.start_agreement(agreement.case, actor=mediator)
    Agreement.objects.filter(pk=agreement.pk).update(state=Agreement.State.VOID)
    with pytest.raises(DraftingError, match="已作废"):
        drafting.start_agreement(agreement.case, actor=mediator)
    assert Agreement.objects.count() == 1


# --- versions --------------------------------------------------------------------------------------


def test_saving_numbers_versions_and_tells_the_parties(
    agreement: Agreement, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        second = save(agreement, mediator, facts="事实\r\n第二段  ", change_note="  改为分两期\n支付 ")
    third = save(agreement, mediator, terms=plan("900.00", (5, "450.00"), (6, "450.00")))
    assert (second.number, third.number) == (2, 3)
    assert second.facts == "事实\n第二段"
    assert second.change_note == "改为分两期 支付"
    assert second.terms["instalments"][0] == {"due": in_days(10), "amount": "600.00"}
    assert second.content_hash == agreement_terms.content_hash(second.facts, second.dispute, second.terms)
    entry = last_entry("signing.agreement.version_saved")
    assert entry.data["version"] == 3 and entry.data["content_hash"] == third.content_hash
    assert notified("signing.agreement.version") >= {"consumer", "bank_agent"}
    assert "mediator" not in notified("signing.agreement.version")


def test_invalid_terms_save_nothing(agreement: Agreement, mediator: User) -> None:
    counts, notes = drafting_counts(), Notification.objects.count()
    with pytest.raises(ValidationError) as caught:
        save(agreement, mediator, terms=plan("1000.00"))
    assert "instalments" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        save(agreement, mediator, facts="   ")
    assert "facts" in caught.value.message_dict
    assert drafting_counts() == counts and Notification.objects.count() == notes


def test_saving_the_same_content_again_is_refused(agreement: Agreement, mediator: User) -> None:
    save(agreement, mediator)
    with pytest.raises(ValidationError, match="完全相同"):
        save(agreement, mediator)
    assert agreement.versions.count() == 2


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "case_manager", "other_mediator"])
def test_only_the_mediator_saves_versions(agreement: Agreement, persona: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(DraftingError, match="只有本案的调解员"):
        save(agreement, request.getfixturevalue(persona))
    assert agreement.versions.count() == 1


def test_a_co_mediator_may_draft(agreement: Agreement, case_manager: User, other_mediator: User) -> None:
    services.add_co_mediator(agreement.case, actor=case_manager, mediator=other_mediator)
    assert save(agreement, fresh(other_mediator)).author == other_mediator


def test_no_versions_once_mediation_has_ended(agreement: Agreement, mediator: User) -> None:
    services.terminate_mediation(agreement.case, actor=mediator, reason="gap_too_large")
    with pytest.raises(DraftingError, match="只有在调解中"):
        save(agreement, mediator)


# --- comments --------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "mediator"])
def test_people_on_the_case_comment_and_the_mediators_are_told(
    agreement: Agreement, persona: str, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Any
) -> None:
    user: User = request.getfixturevalue(persona)
    version = agreement.versions.get()
    with django_capture_on_commit_callbacks(execute=True):
        comment = drafting.add_comment(version, actor=user, body="  第二期日期能否推后一周？\r\n谢谢 ", ip="10.0.0.9")
    assert comment.body == "第二期日期能否推后一周？\n谢谢" and comment.author == user
    entry = last_entry("signing.agreement.commented")
    assert entry.data == {"agreement": agreement.pk, "version": 1, "comment": comment.pk}
    expected = set() if persona == "mediator" else {"mediator"}
    assert notified("signing.agreement.comment") == expected


@pytest.mark.parametrize("persona", ["case_manager", "outsider", "court_clerk", "other_bank_agent"])
def test_others_cannot_comment(agreement: Agreement, persona: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(DraftingError):
        drafting.add_comment(agreement.versions.get(), actor=request.getfixturevalue(persona), body="意见")
    assert not VersionComment.objects.exists()


@pytest.mark.parametrize(("body", "fragment"), [("  \n ", "请填写"), ("长" * 2001, "不能超过")])
def test_comment_body_is_checked(agreement: Agreement, consumer: User, body: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        drafting.add_comment(agreement.versions.get(), actor=consumer, body=body)
    assert fragment in caught.value.message_dict["body"][0]
    assert not VersionComment.objects.exists()


# --- finalisation ----------------------------------------------------------------------------------


def test_mediator_finalises_the_latest_version(
    agreement: Agreement, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    version = save(agreement, mediator)
    with django_capture_on_commit_callbacks(execute=True):
        finalised = drafting.finalise(agreement, actor=mediator, version=version, ip="10.0.0.7", user_agent="Firefox")
    finalised.refresh_from_db()
    assert finalised.final_version == version
    assert finalised.final_content_hash == version.content_hash
    assert finalised.finalised_by == mediator and finalised.finalised_at is not None
    assert finalised.is_frozen and finalised.state == Agreement.State.DRAFTING
    event = SigningEvent.objects.get(agreement=agreement)
    assert event.kind == SigningEvent.Kind.FINALISED and event.actor == mediator
    assert event.ip == "10.0.0.7" and event.user_agent == "Firefox"
    assert event.data == {"agreement": agreement.pk, "version": 2, "content_hash": version.content_hash}
    entry = last_entry("signing.agreement.finalised")
    assert entry.data["content_hash"] == version.content_hash and entry.actor == mediator
    assert notified("signing.agreement.finalised") == {"consumer", "bank_agent"}


def test_finalising_an_older_version_is_refused(agreement: Agreement, mediator: User) -> None:
    first = agreement.versions.get()
    save(agreement, mediator)
    with pytest.raises(DraftingError, match="最新一稿（第 2 稿）"):
        drafting.finalise(agreement, actor=mediator, version=first)
    agreement.refresh_from_db()
    assert not agreement.is_frozen and not SigningEvent.objects.exists()


def test_a_version_of_another_agreement_is_refused(
    agreement: Agreement, mediator: User, make_case: Callable[..., Case]
) -> None:
    other = AgreementVersion.objects.create(
        agreement=Agreement.objects.create(case=make_case(), template="general", short_code="ZZZZ2222"),
        number=1,
        facts="f",
        dispute="d",
        terms=agreement_terms.empty_terms(),
        author=mediator,
        content_hash=agreement_terms.content_hash("f", "d", agreement_terms.empty_terms()),
    )
    with pytest.raises(DraftingError, match="最新一稿"):
        drafting.finalise(agreement, actor=mediator, version=other)


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "case_manager", "other_mediator"])
def test_only_a_mediator_finalises(agreement: Agreement, persona: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(DraftingError, match="只有本案的调解员"):
        drafting.finalise(agreement, actor=request.getfixturevalue(persona), version=agreement.versions.get())
    agreement.refresh_from_db()
    assert not agreement.is_frozen and not LedgerEntry.objects.filter(action="signing.agreement.finalised").exists()


def test_a_frozen_agreement_refuses_edits_comments_and_a_second_finalisation(
    agreement: Agreement, mediator: User, consumer: User
) -> None:
    version = save(agreement, mediator)
    drafting.finalise(agreement, actor=mediator, version=version)
    counts = drafting_counts()
    with pytest.raises(DraftingError, match="已定稿"):
        save(agreement, mediator, terms=plan("800.00", (3, "800.00")))
    with pytest.raises(DraftingError, match="已定稿"):
        drafting.add_comment(version, actor=consumer, body="还想改一下")
    with pytest.raises(DraftingError, match="已定稿"):
        drafting.finalise(agreement, actor=mediator, version=version)
    assert drafting_counts() == counts


def test_a_void_agreement_refuses_edits_and_comments(agreement: Agreement, mediator: User, consumer: User) -> None:
    Agreement.objects.filter(pk=agreement.pk).update(state=Agreement.State.VOID)
    with pytest.raises(DraftingError, match="已作废"):
        save(agreement, mediator)
    with pytest.raises(DraftingError, match="已作废"):
        drafting.add_comment(agreement.versions.get(), actor=consumer, body="意见")


def test_terms_that_no_longer_validate_cannot_be_finalised(
    agreement: Agreement, mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = save(agreement, mediator, terms=plan("1200.00", (2, "600.00"), (40, "600.00")))
    later = timezone.localdate() + datetime.timedelta(days=5)
    monkeypatch.setattr(agreement_terms.timezone, "localdate", lambda *args: later)
    with pytest.raises(DraftingError, match="已不符合要求.*已经过去"):
        drafting.finalise(agreement, actor=mediator, version=version)
    agreement.refresh_from_db()
    assert not agreement.is_frozen


def test_content_changed_behind_the_hash_cannot_be_finalised(agreement: Agreement, mediator: User) -> None:
    version = save(agreement, mediator)
    AgreementVersion.objects.filter(pk=version.pk).update(facts=version.facts + "（另：银行另付 1 万元）")
    with pytest.raises(DraftingError, match="校验值不符"):
        drafting.finalise(agreement, actor=mediator, version=version)
    agreement.refresh_from_db()
    assert not agreement.is_frozen


def test_finalising_after_mediation_ended_is_refused(agreement: Agreement, mediator: User) -> None:
    services.terminate_mediation(agreement.case, actor=mediator, reason="gap_too_large")
    with pytest.raises(DraftingError, match="只有在调解中"):
        drafting.finalise(agreement, actor=mediator, version=agreement.versions.get())


# --- diff ------------------------------------------------------------------------------------------


def test_a_changed_amount_shows_as_removed_and_added_lines(agreement: Agreement, mediator: User) -> None:
    old = save(agreement, mediator, terms={**plan(), "payment_amount": "1200.00"})
    new = save(agreement, mediator, terms=plan("1300.00", (10, "650.00"), (40, "650.00")))
    lines = drafting.diff(old, new)
    removed = [line.text for line in lines if line.kind == "removed"]
    added = [line.text for line in lines if line.kind == "added"]
    assert "金融机构向金融消费者支付人民币 1200.00 元，分 2 期支付：" in removed
    assert "金融机构向金融消费者支付人民币 1300.00 元，分 2 期支付：" in added
    assert any("650.00" in text for text in added) and any("600.00" in text for text in removed)
    same = [line.text for line in lines if line.kind == "same" and not line.heading]
    assert any("保密义务" in text for text in same)
    assert [line.text for line in lines if line.heading] == ["主要事实", "争议事项", "协议条款"]


def test_a_long_paragraph_is_compared_by_sentence(agreement: Agreement, mediator: User) -> None:
    sentences = [f"第{n}句说明双方在二〇二五年就信用卡分期手续费的告知义务各执一词。" for n in range(1, 6)]
    old = save(agreement, mediator, facts="".join(sentences))
    changed = [*sentences[:2], "第3句改为银行承认未充分告知。", *sentences[3:]]
    new = save(agreement, mediator, facts="".join(changed))
    facts_part = [line for line in drafting.diff(old, new) if line.kind != "same"]
    assert [(line.kind, line.text) for line in facts_part] == [
        ("removed", sentences[2]),
        ("added", "第3句改为银行承认未充分告知。"),
    ]


def test_identical_versions_have_no_changes(agreement: Agreement) -> None:
    version = agreement.versions.get()
    assert all(line.kind == "same" for line in drafting.diff(version, version))
