"""Visible signature appearances: a round red seal for organisations, a name block for people.

pyHanko lays out a text stamp with a full CJK font in ~2 s per signature (pitfall P5). Instead each
appearance is drawn once by WeasyPrint into a small PDF under ``VAR_DIR/stamps`` and imported as a
static stamp (~80 ms), the way an electronic seal image is applied: drawn once, used many times.
The field boxes in the agreement have exactly these sizes (``SIGNER_BOX_MM``, ``SEAL_BOX_MM``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.stamp import StaticStampStyle

from mediation.models import Organisation
from signing.files import write_atomically
from signing.fonts import PinnedFont, pinned_font, url_fetcher
from signing.terms import format_date

# Width × height in millimetres.
SIGNER_BOX_MM = (60, 24)
SEAL_BOX_MM = (40, 40)
# Part of every cache key: change it whenever stamp.html or the drawing below changes.
STAMP_VERSION = "1"
SEAL_RED = "#d0021b"
SIGNER_INK = "#0b2a6f"
TEMPLATE = "signing/pdf/stamp.html"


def stamps_dir() -> Path:
    return Path(settings.VAR_DIR) / "stamps"


def seal_appearance(organisation: Organisation) -> StaticStampStyle:
    """The organisation's round red seal (电子印章): its name along the upper arc, a star, a caption."""
    digest = _digest(STAMP_VERSION, organisation.name, organisation.kind)
    path = _cached_stamp(f"seal-{organisation.pk}-{digest}", lambda: _seal_context(organisation))
    return _static_style(path)


def signer_appearance(name: str, caption: str, date: datetime.date) -> StaticStampStyle:
    """A person's signature block: the name, a caption such as 金融消费者 or 调解员, and the date."""
    digest = _digest(STAMP_VERSION, name, caption, date.isoformat())
    path = _cached_stamp(f"signer-{digest}", lambda: _signer_context(name, caption, date))
    return _static_style(path)


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:24]


def _static_style(path: Path) -> StaticStampStyle:
    return StaticStampStyle.from_pdf_file(
        str(path),
        border_width=0,
        background_opacity=1.0,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(),
            inner_content_scaling=InnerScaling.STRETCH_TO_FIT,
        ),
    )


def _cached_stamp(key: str, context: Callable[[], dict[str, Any]]) -> Path:
    path = stamps_dir() / f"{key}.pdf"
    if path.exists():
        return path
    pdf = _render_stamp_pdf(context())
    # Two workers may draw the same stamp at once; each renames its own complete file into place.
    write_atomically(path, lambda handle: handle.write(pdf))
    return path


def _render_stamp_pdf(context: dict[str, Any]) -> bytes:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    font = pinned_font()
    width, height = context["size_mm"]
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(TEMPLATE, {**context, "font_family": font.css_family})
    fetcher = url_fetcher(font)
    font_config = FontConfiguration()
    css = weasyprint.CSS(string=_stamp_css(font, width, height), font_config=font_config, url_fetcher=fetcher)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[css], font_config=font_config)


def _stamp_css(font: PinnedFont, width_mm: float, height_mm: float) -> str:
    return (
        f'@font-face {{ font-family: "{font.css_family}"; src: url("{font.uri}"); }}\n'
        f'html {{ font-family: "{font.css_family}"; }}\n'
        f"@page {{ size: {width_mm}mm {height_mm}mm; margin: 0; }}\n"
    )


def _seal_context(organisation: Organisation) -> dict[str, Any]:
    with translation.override(settings.LANGUAGE_CODE):
        caption = _("调解专用章") if organisation.kind == Organisation.Kind.CENTRE else _("电子印章")
    return {
        "kind": "seal",
        "size_mm": SEAL_BOX_MM,
        "colour": SEAL_RED,
        **seal_geometry(organisation.name),
        "caption": caption,
    }


def seal_geometry(name: str) -> dict[str, Any]:
    """Where each character of ``name`` sits on the upper arc, in a 200 × 200 view box.

    Characters stand upright towards the centre, spread symmetrically about the top over at
    least 180° (short names are spaced out, as on a carved seal) and at most 250° (long names
    get a smaller size).
    """
    chars = [c for c in name.strip() if not c.isspace()] or ["?"]
    count = len(chars)
    ring_inner = 91.0  # the border circle (r 94, stroke 6) ends here
    size = 26.0
    while True:
        baseline = ring_inner - 5 - 0.88 * size  # CJK glyphs rise about 0.88 em above the baseline
        step = math.degrees(size * 1.05 / (baseline + 0.45 * size))
        if step * count <= 250 or size <= 8:
            break
        size -= 0.5
    if count > 1:
        step = max(step, 180 / count)
    first = -step * (count - 1) / 2
    glyphs = [{"char": c, "angle": f"{first + i * step:.2f}"} for i, c in enumerate(chars)]
    star = []
    for k in range(10):
        radius = 25.0 if k % 2 == 0 else 25.0 * 0.382
        angle = math.radians(-90 + 36 * k)
        star.append(f"{100 + radius * math.cos(angle):.2f},{100 + radius * math.sin(angle):.2f}")
    return {
        "glyphs": glyphs,
        "font_size": f"{size:.1f}",
        "baseline_y": f"{100 - baseline:.2f}",
        "star": " ".join(star),
    }


def _signer_context(name: str, caption: str, date: datetime.date) -> dict[str, Any]:
    with translation.override(settings.LANGUAGE_CODE):
        date_line = _("签署日期：%(date)s") % {"date": format_date(date.isoformat())}
    length = len(name)
    name_pt = 18 if length <= 6 else 14 if length <= 10 else 10
    return {
        "kind": "signer",
        "size_mm": SIGNER_BOX_MM,
        "colour": SIGNER_INK,
        "name": name,
        "name_pt": name_pt,
        "caption": caption,
        "date_line": date_line,
    }
