"""Drafting pages: who sees and does what, field-level errors with nothing saved, escaping, finalisation."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mediation.models import Case, LedgerEntry, User
from signing import drafting
from signing import terms as agreement_terms
from signing.case_panel import agreement_panel
from signing.models import Agreement, AgreementVersion, SignatureSlot, VersionComment


def in_days(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.fixture
def agreement(mediating_case: Case, mediator: User) -> Agreement:
    return drafting.start_agreement(mediating_case, actor=mediator)


def url(name: str, case: Case, **kwargs: Any) -> str:
    return reverse(f"signing:{name}", kwargs={"case_pk": case.pk, **kwargs})


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def version_post(**overrides: Any) -> dict[str, Any]:
    """A complete version form: 1200 yuan in two instalments, one waiver, no credit correction."""
    data: dict[str, Any] = {
        "facts": "申请人持有被申请人发行的信用卡，2025年办理账单分期。",
        "dispute": "分期手续费是否已充分告知。",
        "payer": "institution",
        "payment_amount": "1200.00",
        "payment_due": "",
        "withdraw_complaint": "on",
        "confidentiality": "on",
        "judicial_confirmation_consent": "on",
        "performance": "转入申请人本人借记卡。",
        "other_terms": "本协议一式四份。\n\n各方各执一份。",
        "change_note": "改为分两期",
        "instalments-TOTAL_FORMS": "3",
        "instalments-INITIAL_FORMS": "0",
        "instalments-0-due": in_days(10),
        "instalments-0-amount": "600.00",
        "instalments-1-due": in_days(40),
        "instalments-1-amount": "600.00",
        "instalments-2-due": "",
        "instalments-2-amount": "",
        "waivers-TOTAL_FORMS": "1",
        "waivers-INITIAL_FORMS": "0",
        "waivers-0-kind": "fee",
        "waivers-0-amount": "50",
        "waivers-0-description": "年费",
        "credit_corrections-TOTAL_FORMS": "1",
        "credit_corrections-INITIAL_FORMS": "0",
        "credit_corrections-0-description": "",
        "credit_corrections-0-due": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def counts() -> tuple[int, int, int]:
    return AgreementVersion.objects.count(), VersionComment.objects.count(), LedgerEntry.objects.count()


# --- who may open what ----------------------------------------------------------------------------

EVERY_URL: list[tuple[str, dict[str, int]]] = [
    ("agreement", {}),
    ("start", {}),
    ("version_new", {}),
    ("version", {"number": 1}),
    ("comment", {"number": 1}),
    ("version_diff", {"a": 1, "b": 1}),
    ("finalise", {}),
]


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "mediator", "case_manager"])
def test_people_on_the_case_see_the_agreement_pages(
    client: Client, agreement: Agreement, persona: str, request: pytest.FixtureRequest
) -> None:
    logged_in(client, request.getfixturevalue(persona))
    case = agreement.case
    page = client.get(url("agreement", case))
    assert page.status_code == 200
    text = page.content.decode()
    assert "第 1 稿" in text and agreement.versions.get().content_hash[:12] in text
    assert client.get(url("version", case, number=1)).status_code == 200
    assert client.get(url("version_diff", case, a=1, b=1)).status_code == 200
    assert ("修改并保存新的一稿" in text) == (persona == "mediator")


@pytest.mark.parametrize("persona", ["outsider", "court_clerk", "regulator", "other_bank_agent", "other_mediator"])
def test_everyone_else_gets_404_on_every_url_and_method(
    client: Client, agreement: Agreement, persona: str, request: pytest.FixtureRequest
) -> None:
    logged_in(client, request.getfixturevalue(persona))
    case = agreement.case
    before = counts()
    for name, extra in EVERY_URL:
        for method in ("get", "post", "put"):
            response = getattr(client, method)(url(name, case, **extra))
            assert response.status_code == 404, (name, method, response.status_code)
    assert counts() == before


def test_anonymous_visitors_are_sent_to_log_in(client: Client, agreement: Agreement) -> None:
    before = counts()
    for name, extra in EVERY_URL:
        for method in ("get", "post"):
            response = getattr(client, method)(url(name, agreement.case, **extra))
            assert response.status_code == 302, (name, method)
            assert response["Location"].startswith(reverse("login"))
    assert counts() == before


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "case_manager"])
def test_people_on_the_case_get_403_for_the_mediators_actions(
    client: Client, agreement: Agreement, persona: str, request: pytest.FixtureRequest
) -> None:
    logged_in(client, request.getfixturevalue(persona))
    case = agreement.case
    before = counts()
    for name in ("start", "version_new", "finalise"):
        for method in ("get", "post"):
            assert getattr(client, method)(url(name, case)).status_code == 403, (name, method)
    assert client.post(url("version_new", case), version_post()).status_code == 403
    assert counts() == before
    agreement.refresh_from_db()
    assert not agreement.is_frozen


def test_case_manager_reads_but_does_not_comment(client: Client, agreement: Agreement, case_manager: User) -> None:
    logged_in(client, case_manager)
    page = client.get(url("version", agreement.case, number=1)).content.decode()
    assert 'name="body"' not in page
    assert client.post(url("comment", agreement.case, number=1), {"body": "中心意见"}).status_code == 403
    assert not VersionComment.objects.exists()


def test_wrong_method_after_permission_is_405(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    assert client.get(url("start", agreement.case)).status_code == 405
    assert client.post(url("agreement", agreement.case)).status_code == 405
    assert client.get(url("comment", agreement.case, number=1)).status_code == 405


def test_unknown_versions_are_404(client: Client, agreement: Agreement, consumer: User) -> None:
    logged_in(client, consumer)
    assert client.get(url("version", agreement.case, number=2)).status_code == 404
    assert client.get(url("version_diff", agreement.case, a=1, b=7)).status_code == 404


# --- starting -------------------------------------------------------------------------------------


def test_mediator_sees_the_start_form_and_starts(client: Client, mediating_case: Case, mediator: User) -> None:
    logged_in(client, mediator)
    page = client.get(url("agreement", mediating_case)).content.decode()
    assert 'name="template"' in page and url("start", mediating_case) in page
    assert '<option value="credit_card" selected>' in page
    response = client.post(url("start", mediating_case), {"template": "loan"})
    assert response.status_code == 302 and response["Location"] == url("agreement", mediating_case)
    agreement = Agreement.objects.get(case=mediating_case)
    assert agreement.template == "loan" and agreement.versions.count() == 1


def test_parties_see_no_start_form(client: Client, mediating_case: Case, consumer: User) -> None:
    logged_in(client, consumer)
    page = client.get(url("agreement", mediating_case)).content.decode()
    assert 'name="template"' not in page and "调解员起草协议后" in page


def test_a_bad_template_is_a_field_error(client: Client, mediating_case: Case, mediator: User) -> None:
    logged_in(client, mediator)
    response = client.post(url("start", mediating_case), {"template": "lottery"})
    assert response.status_code == 400
    assert 'class="field has-error"' in response.content.decode()
    assert not Agreement.objects.exists()


def test_a_second_start_is_refused_with_a_message(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    response = client.post(url("start", agreement.case), {"template": "general"}, follow=True)
    assert "已有调解协议" in response.content.decode()
    assert Agreement.objects.count() == 1


# --- versions --------------------------------------------------------------------------------------


def test_version_form_is_prefilled_from_the_latest_version(
    client: Client, agreement: Agreement, mediator: User
) -> None:
    logged_in(client, mediator)
    first = agreement.versions.get()
    page = client.get(url("version_new", agreement.case)).content.decode()
    assert agreement.case.description in page
    assert 'name="waivers-0-kind"' in page and 'value="fee" selected' in page
    assert 'name="credit_corrections-0-due"' in page
    assert first.terms["credit_corrections"][0]["due"] in page
    assert "instalments.js" in page and "signing.css" in page
    # One blank row per table beyond the prefilled ones, so the form works without JavaScript.
    assert 'name="instalments-TOTAL_FORMS" value="1"' in page
    assert 'name="waivers-TOTAL_FORMS" value="3"' in page


def test_mediator_saves_a_version_from_the_form(
    client: Client, agreement: Agreement, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    logged_in(client, mediator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("version_new", agreement.case), version_post())
    assert response.status_code == 302 and response["Location"] == url("version", agreement.case, number=2)
    version = agreement.versions.get(number=2)
    assert version.terms == agreement_terms.clean_terms(
        {
            "payment_amount": "1200.00",
            "instalments": [{"due": in_days(10), "amount": "600.00"}, {"due": in_days(40), "amount": "600.00"}],
            "waivers": [{"kind": "fee", "amount": "50.00", "description": "年费"}],
            "withdraw_complaint": True,
            "confidentiality": True,
            "judicial_confirmation_consent": True,
            "performance": "转入申请人本人借记卡。",
            "other_terms": ["本协议一式四份。", "各方各执一份。"],
        }
    )
    assert version.change_note == "改为分两期"
    page = client.get(response["Location"]).content.decode()
    assert "分 2 期支付" in page and "第 2 稿已保存" in page


def test_deleted_and_blank_rows_are_left_out(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    data = version_post(
        **{
            "instalments-TOTAL_FORMS": "3",
            "instalments-2-due": in_days(70),
            "instalments-2-amount": "999.00",
            "instalments-2-DELETE": "on",
        }
    )
    assert client.post(url("version_new", agreement.case), data).status_code == 302
    assert len(agreement.versions.get(number=2).terms["instalments"]) == 2


def _field_block(page: str, field_id: str) -> str:
    """The markup of one form field, up to the next field or the end of its fieldset."""
    anchor = page.index(f'id="field-{field_id}"')
    start = page.rindex("<div", 0, anchor)
    ends = [page.find(marker, anchor) for marker in ('<div class="field', "</fieldset>", "</form>")]
    return page[start : min(end for end in ends if end != -1)]


def test_instalment_total_mismatch_is_shown_on_the_table_and_nothing_is_saved(
    client: Client, agreement: Agreement, mediator: User
) -> None:
    logged_in(client, mediator)
    before = counts()
    response = client.post(url("version_new", agreement.case), version_post(**{"instalments-1-amount": "500.00"}))
    assert response.status_code == 400
    page = response.content.decode()
    table = page[page.index('id="rows-instalments"') : page.index('id="rows-waivers"')]
    assert "rows-instalments-errors" in table
    assert "比支付金额 1200.00 元少 100.00 元" in table
    assert "未作任何变更" in page
    # What was typed is shown again.
    assert 'value="500.00"' in table and "申请人持有被申请人发行的信用卡" in page
    assert counts() == before


def test_a_bad_cell_is_marked_in_its_row(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    before = counts()
    response = client.post(
        url("version_new", agreement.case),
        version_post(
            **{"instalments-0-amount": "-600", "waivers-0-amount": "1.234", "credit_corrections-0-due": in_days(5)}
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    row = page[page.index('name="instalments-0-due"') : page.index('name="instalments-1-due"')]
    assert "金额不能为负数" in row
    waivers = page[page.index('id="rows-waivers"') : page.index('id="rows-credit_corrections"')]
    assert "最多保留两位小数" in waivers
    # A half-filled row must be completed.
    corrections = page[page.index('id="rows-credit_corrections"') :]
    assert "请填写此项" in corrections
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field_id", "fragment"),
    [
        (
            {"instalments-0-due": "", "instalments-0-amount": "", "instalments-1-due": "", "instalments-1-amount": ""},
            "id_payment_due",
            "一次性付款的期限",
        ),
        ({"payment_amount": "12.5.0"}, "id_payment_amount", "金额数字"),
        ({"facts": "   "}, "id_facts", ""),
        ({"payer": "court"}, "id_payer", ""),
    ],
)
def test_form_field_errors_are_shown_next_to_the_field(
    client: Client, agreement: Agreement, mediator: User, overrides: dict[str, str], field_id: str, fragment: str
) -> None:
    logged_in(client, mediator)
    before = counts()
    response = client.post(url("version_new", agreement.case), version_post(**overrides))
    assert response.status_code == 400
    block = _field_block(response.content.decode(), field_id)
    assert "has-error" in block and 'class="error"' in block and fragment in block
    assert counts() == before


def test_tampered_management_form_saves_nothing(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    before = counts()
    data = version_post()
    del data["instalments-TOTAL_FORMS"]
    assert client.post(url("version_new", agreement.case), data).status_code == 400
    assert counts() == before


def test_no_editing_after_finalisation(client: Client, agreement: Agreement, mediator: User) -> None:
    drafting.finalise(agreement, actor=mediator, version=agreement.versions.get())
    logged_in(client, mediator)
    response = client.get(url("version_new", agreement.case))
    assert response.status_code == 302
    assert client.post(url("version_new", agreement.case), version_post()).status_code == 302
    assert agreement.versions.count() == 1


# --- comments and diffs ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["consumer", "bank_agent"])
def test_parties_comment_on_a_version(
    client: Client, agreement: Agreement, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    logged_in(client, user)
    response = client.post(url("comment", agreement.case, number=1), {"body": "第二期能否推迟到月底？"})
    assert response.status_code == 302
    comment = VersionComment.objects.get()
    assert comment.author == user and comment.version.number == 1
    page = client.get(url("version", agreement.case, number=1)).content.decode()
    assert "第二期能否推迟到月底？" in page
    assert "1 条" in client.get(url("agreement", agreement.case)).content.decode()


def test_an_empty_comment_is_a_field_error(client: Client, agreement: Agreement, consumer: User) -> None:
    logged_in(client, consumer)
    before = counts()
    response = client.post(url("comment", agreement.case, number=1), {"body": "   "})
    assert response.status_code == 400
    assert "has-error" in _field_block(response.content.decode(), "id_body")
    assert counts() == before


def test_diff_page_shows_the_changed_amount(client: Client, agreement: Agreement, mediator: User) -> None:
    logged_in(client, mediator)
    client.post(url("version_new", agreement.case), version_post())
    client.post(
        url("version_new", agreement.case),
        version_post(**{"payment_amount": "1300.00", "instalments-1-amount": "700.00"}),
    )
    page = client.get(url("agreement", agreement.case)).content.decode()
    assert url("version_diff", agreement.case, a=2, b=3) in page
    diff = client.get(url("version_diff", agreement.case, a=2, b=3)).content.decode()
    assert "<del>金融机构向金融消费者支付人民币 1200.00 元，分 2 期支付：</del>" in diff
    assert "<ins>金融机构向金融消费者支付人民币 1300.00 元，分 2 期支付：</ins>" in diff
    assert diff.count("<ins>") == 2 and diff.count("<del>") == 2


# --- escaping --------------------------------------------------------------------------------------


def test_script_in_the_content_is_escaped(client: Client, agreement: Agreement, mediator: User, consumer: User) -> None:
    attack = "<script>alert('x')</script>"
    version = drafting.save_version(
        agreement,
        actor=mediator,
        facts=f"事实{attack}",
        dispute="争议",
        terms={"other_terms": [attack], "performance": attack},
        change_note=attack,
    )
    drafting.add_comment(version, actor=consumer, body=attack)
    logged_in(client, consumer)
    for target in (
        url("agreement", agreement.case),
        url("version", agreement.case, number=2),
        url("version_diff", agreement.case, a=1, b=2),
    ):
        page = client.get(target).content.decode()
        assert "<script>alert" not in page, target
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page, target


# --- finalisation ----------------------------------------------------------------------------------


def test_finalise_page_shows_the_hash_of_the_latest_version(
    client: Client, agreement: Agreement, mediator: User
) -> None:
    logged_in(client, mediator)
    page = client.get(url("finalise", agreement.case)).content.decode()
    version = agreement.versions.get()
    assert version.content_hash in page
    assert 'name="version" value="1"' in page


def test_finalise_page_warns_when_the_terms_no_longer_validate(
    client: Client, agreement: Agreement, mediator: User
) -> None:
    version = agreement.versions.get()
    past = {**version.terms, "payment_amount": "10.00", "payment_due": "2020-01-01"}
    AgreementVersion.objects.filter(pk=version.pk).update(terms=past)
    logged_in(client, mediator)
    page = client.get(url("finalise", agreement.case)).content.decode()
    assert "已经过去" in page and "disabled" in page


@pytest.mark.parametrize("atomic_requests", [False, True])
@pytest.mark.django_db(transaction=True)
def test_finalising_prepares_signing_after_the_commit(
    client: Client, mediating_case: Case, mediator: User, monkeypatch: pytest.MonkeyPatch, atomic_requests: bool
) -> None:
    # Even with ATOMIC_REQUESTS on, the view must not render inside the request's transaction.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    agreement = drafting.start_agreement(mediating_case, actor=mediator)
    calls: list[dict[str, Any]] = []

    def prepare_signing(prepared: Agreement, *, actor: User, ip: str | None = None) -> Agreement:
        stored = Agreement.objects.get(pk=prepared.pk)
        calls.append(
            {"in_transaction": connection.in_atomic_block, "frozen": stored.is_frozen, "actor": actor, "ip": ip}
        )
        return stored

    monkeypatch.setattr("signing.services.prepare_signing", prepare_signing)
    logged_in(client, mediator)
    response = client.post(url("finalise", mediating_case), {"version": "1", "confirm": "on"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302 and response["Location"] == url("agreement", mediating_case)
    assert calls == [{"in_transaction": False, "frozen": True, "actor": mediator, "ip": "10.1.2.3"}]
    agreement.refresh_from_db()
    assert agreement.final_version is not None and agreement.final_version.number == 1


def test_a_failed_preparation_keeps_the_freeze_and_says_so(
    client: Client, agreement: Agreement, mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signing import services

    def failing(prepared: Agreement, *, actor: User, ip: str | None = None) -> Agreement:
        raise services.SigningError("render", "字体缺失")

    monkeypatch.setattr("signing.services.prepare_signing", failing)
    logged_in(client, mediator)
    response = client.post(url("finalise", agreement.case), {"version": "1", "confirm": "on"}, follow=True)
    page = response.content.decode()
    assert "签署文本暂未生成：字体缺失" in page
    agreement.refresh_from_db()
    assert agreement.is_frozen
    assert "签署文本尚未生成" in page


def test_finalising_a_stale_version_is_refused_on_the_page(
    client: Client, agreement: Agreement, mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Agreement] = []
    monkeypatch.setattr("signing.services.prepare_signing", lambda prepared, **kwargs: calls.append(prepared))
    logged_in(client, mediator)
    client.post(url("version_new", agreement.case), version_post())
    response = client.post(url("finalise", agreement.case), {"version": "1", "confirm": "on"})
    assert response.status_code == 400
    assert "只能对最新一稿（第 2 稿）定稿" in response.content.decode()
    response = client.post(url("finalise", agreement.case), {"version": "2"})
    assert response.status_code == 400 and "请勾选确认" in response.content.decode()
    agreement.refresh_from_db()
    assert not agreement.is_frozen and calls == []


def test_signature_slots_are_listed_with_a_link_to_signing(
    client: Client, agreement: Agreement, mediator: User, consumer: User
) -> None:
    drafting.finalise(agreement, actor=mediator, version=agreement.versions.get())
    SignatureSlot.objects.create(
        agreement=agreement, position=0, stage=1, role="consumer", field_name="consumer-1", user=consumer, label="张三"
    )
    SignatureSlot.objects.create(
        agreement=agreement,
        position=1,
        stage=1,
        role="institution",
        field_name="institution",
        label="华南商业银行",
        status="signed",
        signed_by=consumer,
        signed_at=timezone.now(),
    )
    logged_in(client, consumer)
    page = client.get(url("agreement", agreement.case)).content.decode()
    table = page[page.index('id="slots-title"') :]
    assert "张三" in table and "华南商业银行" in table and "已签署" in table and "待签署" in table
    assert f'href="{reverse("signing:sign", kwargs={"case_pk": agreement.case.pk})}"' in table


# --- the case page panel ---------------------------------------------------------------------------


def test_panel_for_the_mediator_before_an_agreement_and_for_everyone_after(
    agreement: Agreement, mediator: User, consumer: User, bank_agent: User, outsider: User
) -> None:
    case = agreement.case
    for user in (mediator, consumer, bank_agent):
        panel = agreement_panel(user, case)
        assert panel is not None and panel.context["agreement"] == agreement
        assert panel.template == "signing/_case_panel.html"
    assert agreement_panel(outsider, case) is None


def test_no_panel_without_an_agreement_except_for_the_mediator(
    mediating_case: Case, transferred_case: Case, mediator: User, consumer: User
) -> None:
    assert agreement_panel(consumer, mediating_case) is None
    panel = agreement_panel(mediator, mediating_case)
    assert panel is not None and panel.context["agreement"] is None
    assert agreement_panel(consumer, transferred_case) is None


def test_panel_renders_the_link(agreement: Agreement, consumer: User) -> None:
    from django.template.loader import render_to_string

    panel = agreement_panel(consumer, agreement.case)
    assert panel is not None
    html = render_to_string(panel.template, {"panel": panel.context})
    assert url("agreement", agreement.case) in html and "最新为第 1 稿" in html


# --- the instalment builder in a real browser at phone width ---------------------------------------


def _build_instalments(browser: Any, base_url: str, case_pk: int, screenshot: str) -> dict[str, Any]:
    from playwright.sync_api import expect

    page = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 375, "height": 800}).new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "mediator")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit].primary")
    page.goto(f"/agreements/{case_pk}/versions/new/")
    page.fill("input[name=payment_amount]", "1000")
    page.fill("input[name=payment_due]", "")
    page.fill("input[name=instalments-0-due]", in_days(10))
    page.fill("input[name=instalments-0-amount]", "300.10")
    total = page.locator("[data-instalment-total]")
    expect(total).to_have_text("分期合计 300.10 元，比支付金额少 699.90 元。")
    page.click("#rows-instalments [data-add-row]")
    page.fill("input[name=instalments-1-due]", in_days(40))
    page.fill("input[name=instalments-1-amount]", "700")
    expect(total).to_have_text("分期合计 1000.10 元，比支付金额多 0.10 元。")
    page.click("#rows-instalments [data-add-row]")
    page.fill("input[name=instalments-2-amount]", "5")
    page.locator("#rows-instalments [data-row]").nth(2).locator("[data-remove-row]").click()
    page.fill("input[name=instalments-0-amount]", "300")
    expect(total).to_have_text("分期合计 1000.00 元，与支付金额一致。")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=screenshot, full_page=True)
    page.click("button[type=submit]:has-text('保存为新的一稿')")
    expect(page.locator(".messages")).to_contain_text("第 2 稿已保存")
    widths = {"form": overflow}
    for name, path in (
        ("agreement", f"/agreements/{case_pk}/"),
        ("version", f"/agreements/{case_pk}/versions/2/"),
        ("diff", f"/agreements/{case_pk}/diff/1/2/"),
        ("finalise", f"/agreements/{case_pk}/finalise/"),
    ):
        page.goto(path)
        widths[name] = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        page.screenshot(path=screenshot.replace(".png", f"-{name}.png"), full_page=True)
    return widths


@pytest.mark.skipif(not __import__("shutil").which("/usr/bin/chromium"), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_instalment_builder_at_phone_width(live_server: Any, mediating_case: Case, mediator: User) -> None:
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from playwright.sync_api import sync_playwright

    from tests.test_browser_complaint import CHROMIUM, CHROMIUM_ARGS

    drafting.start_agreement(mediating_case, actor=mediator)
    screenshot = f"{tempfile.gettempdir()}/agreement-version-375.png"
    # Playwright's sync API runs an event loop in its thread, where Django refuses ORM calls.
    with ThreadPoolExecutor(max_workers=1) as worker:
        playwright = worker.submit(lambda: sync_playwright().start()).result()
        try:
            browser = worker.submit(
                lambda: playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ).result()
            seen = worker.submit(_build_instalments, browser, live_server.url, mediating_case.pk, screenshot).result()
        finally:
            worker.submit(playwright.stop).result()
    assert seen == {"form": 0, "agreement": 0, "version": 0, "diff": 0, "finalise": 0}, f"sideways scroll: {seen}"
    version = AgreementVersion.objects.get(agreement__case=mediating_case, number=2)
    assert version.terms["instalments"] == [
        {"due": in_days(10), "amount": "300.00"},
        {"due": in_days(40), "amount": "700.00"},
    ]


def test_case_page_links_to_the_agreement(
    client: Client, agreement: Agreement, consumer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediation.views import cases

    # Registration is signing.apps' business; the page must show the panel once it is registered.
    panels = [build for build in cases.CASE_PANELS if build is not agreement_panel]
    monkeypatch.setattr(cases, "CASE_PANELS", [*panels, agreement_panel])
    logged_in(client, consumer)
    page = client.get(reverse("case_detail", kwargs={"pk": agreement.case.pk})).content.decode()
    assert f'href="{url("agreement", agreement.case)}"' in page and "最新为第 1 稿" in page
