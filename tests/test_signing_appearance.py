"""Signature appearances: drawn once by WeasyPrint, cached on disk, applied as pyHanko static stamps."""

from __future__ import annotations

import datetime
import re
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mediation.models import Case, Organisation, User
from signing import appearance, render
from signing.fonts import fonts_dir, pinned_font
from tests.test_signing_render import build_version, unsaved_slots

DAY = datetime.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def stamps_in_tmp(settings: Any, tmp_path: Path) -> None:
    """A fresh stamp cache per test; the (slow to extract) pinned font is shared with the real VAR_DIR."""
    real_fonts = fonts_dir()
    pinned_font()
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    (settings.VAR_DIR / "fonts").symlink_to(real_fonts, target_is_directory=True)


@pytest.fixture
def render_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = appearance._render_stamp_pdf

    def counting(context: dict[str, Any]) -> bytes:
        calls.append(context)
        return real(context)

    monkeypatch.setattr(appearance, "_render_stamp_pdf", counting)
    return calls


def stamp_file(style: StaticStampStyle) -> Path:
    background: Any = style.background
    return Path(background.file_name)


def pdftotext_raw(path: Path) -> str:
    """Text in content-stream order: the seal's characters, drawn one by one along the arc, in sequence."""
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", "", out)


def page_size(path: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    match = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert match
    return float(match.group(1)), float(match.group(2))


def test_seal_is_drawn_once_and_reused(centre: Organisation, bank: Organisation, render_calls: list[Any]) -> None:
    first = stamp_file(appearance.seal_appearance(centre))
    mtime = first.stat().st_mtime_ns
    again = stamp_file(appearance.seal_appearance(centre))
    assert again == first
    assert again.stat().st_mtime_ns == mtime
    assert len(render_calls) == 1
    assert first.parent == appearance.stamps_dir()

    assert stamp_file(appearance.seal_appearance(bank)) != first
    assert len(render_calls) == 2


def test_renamed_organisation_gets_a_new_seal(centre: Organisation, render_calls: list[Any]) -> None:
    before = stamp_file(appearance.seal_appearance(centre))
    centre.name = "广东省金融消费权益保护联合会调解中心"
    after = stamp_file(appearance.seal_appearance(centre))
    assert after != before
    assert centre.name in pdftotext_raw(after)
    assert len(render_calls) == 2


def test_seal_shows_the_organisation_name_in_red_at_the_field_size(centre: Organisation) -> None:
    path = stamp_file(appearance.seal_appearance(centre))
    text = pdftotext_raw(path)
    assert centre.name in text
    assert "调解专用章" in text
    mm = 72 / 25.4
    assert page_size(path) == pytest.approx((appearance.SEAL_BOX_MM[0] * mm, appearance.SEAL_BOX_MM[1] * mm), abs=0.1)
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all("Fengqiao-Noto-Serif-CJK-SC" in row and " yes yes yes " in f" {row} " for row in rows)


def test_institution_seal_says_electronic_seal(bank: Organisation) -> None:
    text = pdftotext_raw(stamp_file(appearance.seal_appearance(bank)))
    assert bank.name in text and "电子印章" in text


def test_signer_block_shows_name_caption_and_date(render_calls: list[Any]) -> None:
    path = stamp_file(appearance.signer_appearance("张三", "金融消费者", DAY))
    text = pdftotext_raw(path)
    assert "张三" in text and "金融消费者" in text and "签署日期：2026年11月22日" in text
    mm = 72 / 25.4
    width, height = appearance.SIGNER_BOX_MM
    assert page_size(path) == pytest.approx((width * mm, height * mm), abs=0.1)

    assert stamp_file(appearance.signer_appearance("张三", "金融消费者", DAY)) == path
    assert stamp_file(appearance.signer_appearance("张三", "金融消费者", DAY + datetime.timedelta(days=1))) != path
    assert stamp_file(appearance.signer_appearance("张三", "调解员", DAY)) != path
    assert len(render_calls) == 3


def test_hostile_name_is_drawn_as_text(render_calls: list[Any]) -> None:
    path = stamp_file(appearance.signer_appearance("<b>李四</b>&", "金融消费者", DAY))
    assert "<b>李四</b>&" in pdftotext_raw(path)


def self_signed_signer() -> tuple[signers.SimpleSigner, asn1_x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "签章外观测试")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, True, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8), cert_registry=SimpleCertificateStore()
    )
    return signer, cert


def test_static_appearances_fill_the_prepared_fields_and_the_signatures_stay_valid(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    version = build_version(mediating_case, mediator)
    slots = unsaved_slots(version.agreement, consumer, mediator)
    rendered = render.render_agreement(version, slots)
    pdf = render.add_signature_fields(rendered.pdf, rendered.placements, seal_field="centre-seal")
    signer, cert = self_signed_signer()
    stamps = {
        "consumer-1": appearance.signer_appearance(consumer.real_name, "金融消费者", DAY),
        "institution": appearance.seal_appearance(mediating_case.institution),
    }
    for field_name, style in stamps.items():
        meta = signers.PdfSignatureMetadata(
            field_name=field_name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        out = signers.PdfSigner(meta, signer=signer, stamp_style=style).sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
        pdf = out.getvalue()

    reader = PdfFileReader(BytesIO(pdf))
    context = ValidationContext(trust_roots=[cert], allow_fetching=False)
    assert len(reader.embedded_signatures) == 2
    for signature in reader.embedded_signatures:
        status = validate_pdf_signature(signature, signer_validation_context=context)
        assert status.intact and status.valid, status.pretty_print_details()
        assert status.bottom_line, status.pretty_print_details()
        # The widget shows the imported stamp page, scaled into exactly the prepared box.
        widget = signature.sig_field
        normal = widget["/AP"]["/N"]
        assert normal["/Subtype"] == "/Form"
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        bx1, by1, bx2, by2 = (float(v) for v in normal["/BBox"])
        assert (abs(bx2 - bx1), abs(by2 - by1)) == pytest.approx((x2 - x1, y2 - y1), abs=1)
        assert any(str(k).startswith("/Import") for k in normal["/Resources"]["/XObject"])
