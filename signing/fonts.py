"""The one CJK font every agreement, report and stamp is set in.

Debian's fonts-noto-cjk ships the serif faces as one font collection (.ttc) whose first face is the
Japanese variant; Chinese text set in it gets Japanese glyph shapes. We extract the Simplified
Chinese face once into ``VAR_DIR/fonts`` and reference that file with ``@font-face``, so the
documents never depend on what fontconfig happens to pick on a machine (pitfall P3).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from signing.files import write_atomically

DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
FAMILY = "Noto Serif CJK SC"
# The name documents use in @font-face: distinct from the system family, so fontconfig can never
# substitute the installed collection (or anything else) for the extracted file.
CSS_FAMILY = "Fengqiao Noto Serif CJK SC"
FILE_NAME = "NotoSerifCJKsc-Regular.otf"

_lock = threading.Lock()
_pinned: dict[Path, PinnedFont] = {}


@dataclass(frozen=True)
class PinnedFont:
    path: Path
    family: str
    sha256: str

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def css_family(self) -> str:
        return CSS_FAMILY

    @property
    def uri(self) -> str:
        return self.path.as_uri()


def url_fetcher(font: PinnedFont) -> Any:
    """A WeasyPrint URL fetcher that serves the pinned font and refuses everything else.

    Every party-supplied value is escaped, so no document should reference anything; this keeps a
    template mistake from reading local files or reaching the network while rendering evidence.
    """
    from weasyprint.urls import URLFetcher

    class PinnedFontOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url != font.uri:
                raise ValueError(f"{url} is not the pinned font")
            return super().fetch(url, headers)

    return PinnedFontOnly(allowed_protocols={"file"})


def source_font() -> Path:
    """The collection the face is extracted from (``SIGNING_CJK_FONT_SOURCE`` overrides it)."""
    return Path(getattr(settings, "SIGNING_CJK_FONT_SOURCE", DEFAULT_SOURCE))


def fonts_dir() -> Path:
    return Path(settings.VAR_DIR) / "fonts"


def pinned_font() -> PinnedFont:
    """The extracted face, extracting it on first use; cached per target path for the process."""
    target = fonts_dir() / FILE_NAME
    with _lock:
        font = _pinned.get(target)
        if font is not None and target.exists():
            return font
        if not target.exists():
            _extract(source_font(), target)
        font = PinnedFont(path=target, family=FAMILY, sha256=_sha256_file(target))
        _pinned[target] = font
        return font


def source_has_face(source: Path) -> bool:
    """Whether ``source`` is a font collection holding the face we extract (for the system check)."""
    from fontTools.ttLib import TTCollection

    try:
        collection = TTCollection(str(source), lazy=True)
    except Exception:
        return False
    try:
        return any(f["name"].getDebugName(1) == FAMILY for f in collection.fonts)
    finally:
        collection.close()


def _extract(source: Path, target: Path) -> None:
    from fontTools.ttLib import TTCollection

    if not source.exists():
        raise FileNotFoundError(f"CJK source font {source} is missing (apt-get install fonts-noto-cjk)")
    collection = TTCollection(str(source), lazy=True)
    try:
        face = next((f for f in collection.fonts if f["name"].getDebugName(1) == FAMILY), None)
        if face is None:
            raise LookupError(f"{source} has no face named {FAMILY!r}")
        # Keep head.modified as shipped so every extraction is byte-identical (and so is its hash).
        face.recalcTimestamp = False
        # Several workers may extract at once; the copies are identical.
        write_atomically(target, face.save)
    finally:
        collection.close()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
