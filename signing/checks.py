"""System checks for rendering: the CJK font every agreement is set in must be installed.

(The HarfBuzz-subset check lives in ``mediation.checks``.)
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from signing.fonts import FAMILY, source_font, source_has_face


@register()
def check_cjk_font(app_configs: Any, **kwargs: Any) -> list[Error]:
    # Without the pinned face WeasyPrint would fall back to whatever fontconfig offers: another
    # font, Japanese glyph shapes, or empty boxes in a legal document (pitfall P3).
    source = source_font()
    if not source.is_file():
        return [
            Error(
                f"The CJK font {FAMILY} ({source}) that agreements are set in is missing.",
                hint="apt-get install fonts-noto-cjk (make install does this), or set SIGNING_CJK_FONT_SOURCE.",
                id="signing.E001",
            )
        ]
    if not source_has_face(source):
        return [
            Error(
                f"{source} is not a font collection with the face {FAMILY} that agreements are set in.",
                hint="Point SIGNING_CJK_FONT_SOURCE at Noto Serif CJK (fonts-noto-cjk's NotoSerifCJK-Regular.ttc).",
                id="signing.E002",
            )
        ]
    return []
