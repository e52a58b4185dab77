"""The agreement and the signing report as real PDFs, read back with poppler and pyHanko."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, timedelta
from decimal import Decimal
from io import BytesIO
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone, translation
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from mediation.models import Case, User
from signing import checks, render
from signing.appearance import SEAL_BOX_MM, SIGNER_BOX_MM
from signing.fonts import pinned_font, url_fetcher
from signing.models import (
    Agreement,
    AgreementVersion,
    IssuedCertificate,
    PdfRevision,
    SignatureSlot,
    SigningEvent,
)
from signing.terms import content_hash

MM_TO_PT = 72 / 25.4

FACTS = "申请人于2024年3月申领被申请人信用卡，2026年因疫情失业未能按期还款，被申请人按合同收取逾期利息及违约金。"
DISPUTE = "申请人认为被申请人收取的违约金过高且未充分提示，请求减免；被申请人认为收费符合合同约定。"


def full_terms() -> dict[str, Any]:
    return {
        "payer": "institution",
        "payment_amount": "1200.00",
        "payment_due": None,
        "instalments": [
            {"due": "2026-12-31", "amount": "600.00"},
            {"due": "2027-01-31", "amount": "600.00"},
        ],
        "waivers": [{"kind": "interest", "amount": "300.00", "description": "2026年6月至9月的逾期利息"}],
        "credit_corrections": [{"description": "更正2026年7月的逾期记录", "due": "2026-12-15"}],
        "withdraw_complaint": True,
        "confidentiality": True,
        "judicial_confirmation_consent": True,
        "performance": "被申请人通过银行转账支付至申请人本人名下的借记卡账户。",
        "other_terms": ["双方就本纠纷再无其他争议。"],
    }


def build_version(
    case: Case, author: User, *, facts: str = FACTS, dispute: str = DISPUTE, terms: dict[str, Any] | None = None
) -> AgreementVersion:
    terms = full_terms() if terms is None else terms
    agreement = Agreement.objects.create(case=case, template="credit_card", short_code="K7M2Q9XA")
    return AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        facts=facts,
        dispute=dispute,
        terms=terms,
        author=author,
        content_hash=content_hash(facts, dispute, terms),
    )


def unsaved_slots(agreement: Agreement, consumer: User, mediator: User) -> list[SignatureSlot]:
    case = agreement.case
    rows: list[tuple[str, int, str, str, dict[str, Any]]] = [
        (SignatureSlot.Role.CONSUMER, 1, "consumer-1", consumer.real_name, {"user": consumer}),
        (SignatureSlot.Role.INSTITUTION, 1, "institution", case.institution.name, {"organisation": case.institution}),
        (SignatureSlot.Role.MEDIATOR, 2, "mediator-1", mediator.real_name, {"user": mediator}),
        (SignatureSlot.Role.CENTRE, 3, "centre-seal", case.centre.name, {"organisation": case.centre}),
    ]
    return [
        SignatureSlot(agreement=agreement, position=n, stage=stage, role=role, field_name=name, label=label, **who)
        for n, (role, stage, name, label, who) in enumerate(rows)
    ]


def poppler(tool: str, *args: str) -> str:
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True, timeout=60).stdout


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def squeezed(text: str) -> str:
    """pdftotext breaks lines (and long hex values) where the layout did; compare without whitespace."""
    return re.sub(r"\s+", "", text)


def page_count(path: str) -> int:
    match = re.search(r"^Pages:\s+(\d+)", poppler("pdfinfo", path), re.MULTILINE)
    assert match
    return int(match.group(1))


@pytest.fixture
def version(mediating_case: Case, mediator: User) -> AgreementVersion:
    return build_version(mediating_case, mediator)


@pytest.fixture
def slots(version: AgreementVersion, consumer: User, mediator: User) -> list[SignatureSlot]:
    return unsaved_slots(version.agreement, consumer, mediator)


@pytest.fixture
def rendered(version: AgreementVersion, slots: list[SignatureSlot]) -> render.RenderedAgreement:
    return render.render_agreement(version, slots)


def test_agreement_text_is_extractable_chinese(
    rendered: render.RenderedAgreement, mediating_case: Case, consumer: User, mediator: User, tmp_path: Path
) -> None:
    path = write(tmp_path, "agreement.pdf", rendered.pdf)
    text = squeezed(poppler("pdftotext", path, "-"))
    bank, centre = mediating_case.institution, mediating_case.centre
    for needle in [
        "调解协议书",
        consumer.real_name,
        consumer.id_number_masked,
        bank.name,
        bank.credit_code,
        mediator.real_name,
        centre.name,
        "赵经理",  # the bank agent who answered the complaint acts for the institution
        FACTS,
        DISPUTE,
        "人民币1,200.00元（大写：壹仟贰佰元整）",
        "2027年1月31日前",
        "逾期利息",
        "更正2026年7月的逾期记录",
        "撤回就本纠纷提出的投诉",
        "《人民法院在线调解规则》第二十九条",
        "三十日内，共同向有管辖权的人民法院申请司法确认",
        "履行方式与期限：被申请人通过银行转账",
        "双方就本纠纷再无其他争议。",
        "本协议自各方当事人、调解员签署并加盖调解组织电子印章之日起生效",
        "验证码K7M2Q9XA",
        "http://127.0.0.1:8000/verify/K7M2Q9XA/",
    ]:
        assert squeezed(str(needle)) in text, needle
    # The full resident ID number never appears, only the masked one.
    assert consumer.reveal_id_number() not in text


def test_every_page_has_the_case_number_and_page_count(
    mediating_case: Case, consumer: User, mediator: User, tmp_path: Path
) -> None:
    long_facts = "\n".join([FACTS] * 30)
    version = build_version(mediating_case, mediator, facts=long_facts)
    pdf = render.render_agreement(version, unsaved_slots(version.agreement, consumer, mediator)).pdf
    path = write(tmp_path, "agreement.pdf", pdf)
    pages = page_count(path)
    assert pages >= 3
    for page in range(1, pages + 1):
        text = squeezed(poppler("pdftotext", "-f", str(page), "-l", str(page), path, "-"))
        assert f"案号：{mediating_case.number}" in text
        assert f"第{page}页共{pages}页" in text


def test_every_font_is_embedded_and_the_cjk_font_is_the_pinned_one(
    rendered: render.RenderedAgreement, tmp_path: Path
) -> None:
    rows = poppler("pdffonts", write(tmp_path, "agreement.pdf", rendered.pdf)).splitlines()[2:]
    assert rows
    for row in rows:
        name, *_, emb, sub, uni, _obj, _gen = row.split()
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
    assert all("Fengqiao-Noto-Serif-CJK-SC" in row and "CID" in row for row in rows)


def test_terms_are_attached_as_json(
    rendered: render.RenderedAgreement, version: AgreementVersion, consumer: User, tmp_path: Path
) -> None:
    path = write(tmp_path, "agreement.pdf", rendered.pdf)
    assert "agreement.json" in poppler("pdfdetach", "-list", path)
    target = tmp_path / "agreement.json"
    poppler("pdfdetach", "-save", "1", "-o", str(target), path)
    data = json.loads(target.read_text("utf-8"))
    case = version.agreement.case
    assert data["terms"] == version.terms
    assert data["content_hash"] == version.content_hash
    assert data["version"] == 1
    assert data["case_number"] == case.number
    assert data["facts"] == FACTS and data["dispute"] == DISPUTE
    assert data["parties"]["consumers"] == [{"name": "张三", "id_number_masked": consumer.id_number_masked}]
    assert data["parties"]["institution"]["credit_code"] == case.institution.credit_code
    assert data["centre"]["name"] == case.centre.name
    assert [m["name"] for m in data["mediators"]] == ["吴调解员"]
    assert [f["field_name"] for f in data["signature_fields"]] == [
        "consumer-1",
        "institution",
        "mediator-1",
        "centre-seal",
    ]
    font = pinned_font()
    assert data["font"] == {"family": "Noto Serif CJK SC", "file": font.file_name, "sha256": font.sha256}
    assert consumer.reveal_id_number() not in target.read_text("utf-8")
    # PDF/A-3 (which allows embedded files) with the attachment declared as the document's data.
    reader = PdfFileReader(BytesIO(rendered.pdf))
    assert b'pdfaid:part="3"' in reader.root["/Metadata"].get_object().data
    names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "agreement.json"
    assert names[1]["/AFRelationship"] == "/Data"


def test_signature_fields_are_created_empty_in_order_with_the_seal_locking_the_document(
    rendered: render.RenderedAgreement,
) -> None:
    prepared = render.add_signature_fields(rendered.pdf, rendered.placements, seal_field="centre-seal")
    # One incremental update appended to the rendered file: the pages are untouched.
    assert prepared.startswith(rendered.pdf)
    reader = PdfFileReader(BytesIO(prepared))
    assert reader.xrefs.total_revisions == PdfFileReader(BytesIO(rendered.pdf)).xrefs.total_revisions + 1
    fields = list(enumerate_sig_fields(reader))
    assert [name for name, _value, _ref in fields] == ["consumer-1", "institution", "mediator-1", "centre-seal"]
    assert all(value is None for _name, value, _ref in fields)
    locks = {name: ref.get_object().get("/Lock") for name, _value, ref in fields}
    assert locks["consumer-1"] is None and locks["institution"] is None and locks["mediator-1"] is None
    seal_lock = locks["centre-seal"].get_object()
    assert seal_lock["/Action"] == "/All"
    assert seal_lock["/P"] == 1  # MDPPerm.NO_CHANGES: sealing freezes the document
    # Each widget sits where the placement says, on its page.
    by_name = {p.field_name: p for p in rendered.placements}
    for name, _value, ref in fields:
        rect = [float(v) for v in ref.get_object()["/Rect"]]
        assert rect == pytest.approx(list(by_name[name].box), abs=0.01)
        page = reader.root["/Pages"]["/Kids"][by_name[name].page].get_object()
        assert ref.reference in [annot.reference for annot in page["/Annots"]]


def test_add_signature_fields_refuses_a_missing_seal_field(rendered: render.RenderedAgreement) -> None:
    with pytest.raises(ValueError):
        render.add_signature_fields(rendered.pdf, rendered.placements, seal_field="nobody")


def test_placements_are_on_the_page_the_right_size_and_do_not_overlap(
    rendered: render.RenderedAgreement, slots: list[SignatureSlot]
) -> None:
    reader = PdfFileReader(BytesIO(rendered.pdf))
    assert [p.field_name for p in rendered.placements] == [s.field_name for s in slots]
    sizes = {
        "consumer-1": SIGNER_BOX_MM,
        "institution": SEAL_BOX_MM,
        "mediator-1": SIGNER_BOX_MM,
        "centre-seal": SEAL_BOX_MM,
    }
    for placement in rendered.placements:
        page = reader.root["/Pages"]["/Kids"][placement.page].get_object()
        _x0, _y0, width, height = (float(v) for v in page["/MediaBox"])
        x1, y1, x2, y2 = placement.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        want_w, want_h = sizes[placement.field_name]
        # Laid out whole on one page (break-inside: avoid), exactly the appearance's size.
        assert (x2 - x1, y2 - y1) == pytest.approx((want_w * MM_TO_PT, want_h * MM_TO_PT), abs=0.05)
    for a, b in combinations(rendered.placements, 2):
        if a.page != b.page:
            continue
        apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
        assert apart, (a, b)
    # Position order reads top to bottom, left to right.
    tops = [(p.page, -p.box[3], p.box[0]) for p in rendered.placements]
    assert tops == sorted(tops)


def test_the_same_version_renders_to_the_same_bytes(
    rendered: render.RenderedAgreement, version: AgreementVersion, slots: list[SignatureSlot]
) -> None:
    assert rendered.sha256 == hashlib.sha256(rendered.pdf).hexdigest()
    assert rendered.sm3 == hashlib.new("sm3", rendered.pdf).hexdigest()
    # Whatever language the caller has active, the legal text is the Chinese one.
    with translation.override("en"):
        again = render.render_agreement(version, slots)
    assert again.pdf == rendered.pdf
    assert again.placements == rendered.placements
    # The identifier and the dates come from the version, not from the clock.
    reader = PdfFileReader(BytesIO(rendered.pdf))
    assert reader.trailer_view["/ID"][0] == version.content_hash[:32]
    info = reader.trailer_view["/Info"].get_object()
    stamp = version.created_at.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")
    assert (info["/CreationDate"], info["/ModDate"]) == (stamp, stamp)
    xmp = reader.root["/Metadata"].get_object().data
    assert version.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode() in xmp


def test_hostile_text_is_shown_as_text_not_markup(
    mediating_case: Case, consumer: User, mediator: User, tmp_path: Path
) -> None:
    facts = '<script>alert("x")</script><img src="file:///etc/passwd"> & </style><h1>假标题</h1>'
    version = build_version(mediating_case, mediator, facts=facts)
    pdf = render.render_agreement(version, unsaved_slots(version.agreement, consumer, mediator)).pdf
    text = poppler("pdftotext", write(tmp_path, "agreement.pdf", pdf), "-")
    assert '<script>alert("x")</script>' in text
    assert '<img src="file:///etc/passwd">' in text
    assert "</style><h1>假标题</h1>" in text


def test_agreement_without_payment_still_has_the_effect_clause(
    mediating_case: Case, consumer: User, mediator: User, tmp_path: Path
) -> None:
    terms = full_terms() | {"payment_amount": None, "instalments": [], "waivers": [], "credit_corrections": []}
    version = build_version(mediating_case, mediator, terms=terms)
    pdf = render.render_agreement(version, unsaved_slots(version.agreement, consumer, mediator)).pdf
    text = squeezed(poppler("pdftotext", write(tmp_path, "agreement.pdf", pdf), "-"))
    assert "人民币" not in text
    assert "本协议自各方当事人、调解员签署并加盖调解组织电子印章之日起生效" in text


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1200.00", "壹仟贰佰元整"),
        ("100050.00", "壹拾万零伍拾元整"),
        ("1001.50", "壹仟零壹元伍角整"),
        ("10000000.09", "壹仟万元零玖分"),
        ("100000001", "壹亿零壹元整"),
        ("101000000", "壹亿零壹佰万元整"),
        ("100001000", "壹亿零壹仟元整"),
        ("0.05", "伍分"),
        ("0", "零元整"),
        ("36.47", "叁拾陆元肆角柒分"),
    ],
)
def test_amount_in_words(amount: str, words: str) -> None:
    assert render.amount_in_words(Decimal(amount)) == words


def test_signing_report_lists_revisions_events_and_certificates(
    version: AgreementVersion, consumer: User, mediator: User, tmp_path: Path
) -> None:
    agreement = version.agreement
    now = timezone.now()
    agreement.final_version = version
    agreement.final_content_hash = version.content_hash
    agreement.finalised_at = now
    agreement.finalised_by = mediator
    agreement.state = Agreement.State.SIGNING
    agreement.save()
    slot = unsaved_slots(agreement, consumer, mediator)[0]
    slot.status, slot.signed_by, slot.signed_at = SignatureSlot.Status.SIGNED, consumer, now
    slot.save()
    revisions = []
    for number, content in enumerate([b"%PDF-1.7 prepared", b"%PDF-1.7 prepared + consumer signature"]):
        revisions.append(
            PdfRevision.objects.create(
                agreement=agreement,
                number=number,
                slot=slot if number else None,
                file=ContentFile(content, name=f"r{number}.pdf"),
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                sm3=hashlib.new("sm3", content).hexdigest(),
            )
        )
    certificate = IssuedCertificate.objects.create(
        kind=IssuedCertificate.Kind.EVENT,
        serial="5f3a9c01d2",
        subject="CN=张三,O=枫桥在线调解平台",
        user=consumer,
        not_before=now,
        not_after=now + timedelta(minutes=30),
        certificate_der=b"0\x82fake",
    )
    SigningEvent.objects.create(
        agreement=agreement,
        slot=slot,
        kind=SigningEvent.Kind.SIGNED,
        actor=consumer,
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (Linux; Android 14) 测试浏览器",
        data={
            "otp_verified": True,
            "seen_sha256": revisions[0].sha256,
            "after_sha256": revisions[1].sha256,
            "certificate_serial": certificate.serial,
        },
    )
    pdf = render.render_signing_report(agreement)
    path = write(tmp_path, "report.pdf", pdf)
    text = squeezed(poppler("pdftotext", path, "-"))
    assert "签署报告" in text
    assert agreement.case.number in text and agreement.short_code in text
    assert version.content_hash in text
    for revision in revisions:
        assert revision.sha256 in text and revision.sm3 in text
    for needle in ["203.0.113.7", "测试浏览器", "验证码核验是", certificate.serial, "CN=张三", "张三"]:
        assert squeezed(needle) in text, needle
    assert hashlib.sha256(b"0\x82fake").hexdigest() in text
    pages = page_count(path)
    assert f"第1页共{pages}页" in text
    for row in poppler("pdffonts", path).splitlines()[2:]:
        assert "yes yes yes" in " ".join(row.split()), row


def test_missing_cjk_font_fails_the_system_check(settings: Any, tmp_path: Path) -> None:
    assert checks.check_cjk_font(None) == []
    settings.SIGNING_CJK_FONT_SOURCE = tmp_path / "missing.ttc"
    assert [e.id for e in checks.check_cjk_font(None)] == ["signing.E001"]
    not_a_font = tmp_path / "fake.ttc"
    not_a_font.write_bytes(b"not a font")
    settings.SIGNING_CJK_FONT_SOURCE = not_a_font
    assert [e.id for e in checks.check_cjk_font(None)] == ["signing.E002"]


def test_rendering_fetches_nothing_but_the_pinned_font() -> None:
    font = pinned_font()
    fetcher = url_fetcher(font)
    response = fetcher.fetch(font.uri)
    try:
        assert response.read(4) == b"OTTO"  # an OpenType (CFF) font
    finally:
        response.close()
    for url in ["file:///etc/passwd", "http://127.0.0.1:8000/", "https://example.com/logo.png"]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
