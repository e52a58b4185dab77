"""System checks run by ``manage.py check`` and at start-up."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_harfbuzz_subset(app_configs: Any, **kwargs: Any) -> list[Error]:
    # Without libharfbuzz-subset0 WeasyPrint falls back to fontTools subsetting and a Chinese
    # agreement takes 14–30 s instead of ~0.5 s, with only a DeprecationWarning.
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except OSError as exc:  # pango itself missing
        return [Error(f"WeasyPrint cannot load its libraries: {exc}", id="fengqiao.E001")]
    if harfbuzz_subset is None:
        return [
            Error(
                "HarfBuzz subsetting is not available to WeasyPrint.",
                hint="apt-get install libharfbuzz-subset0 (make install does this).",
                id="fengqiao.E002",
            )
        ]
    return []
