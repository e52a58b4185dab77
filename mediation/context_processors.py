from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def display(request: HttpRequest) -> dict[str, Any]:
    """Site title and the large-text high-contrast preference (在线诉讼规则 Art 2(4))."""
    user = getattr(request, "user", None)
    large = request.COOKIES.get("large_text") == "1" or bool(
        user is not None and user.is_authenticated and getattr(user, "large_text", False)
    )
    return {"SITE_TITLE": settings.SITE_TITLE, "large_text": large}
