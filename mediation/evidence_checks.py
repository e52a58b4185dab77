"""Upload checks shared by every app that accepts files (evidence, answers, session attachments)."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import magic
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

# What the content is (libmagic), never what the name says. Labels are shown in the rejection.
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "text/plain": "TXT",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "audio/mpeg": "MP3",
    "video/mp4": "MP4",
}


class UploadRejected(Exception):
    """The file is refused; the message tells the user why and what is accepted."""


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size: int
    sha256: str
    sm3: str
    safe_name: str


def _safe_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:200] or "file"


def sniff_upload(upload: UploadedFile) -> CheckedUpload:
    size = upload.size or 0
    if size == 0:
        raise UploadRejected(_("文件为空。"))
    if size > settings.EVIDENCE_MAX_BYTES:
        raise UploadRejected(
            _("文件过大（%(size).1f MB），单个文件不能超过 %(limit)d MB。")
            % {"size": size / 1048576, "limit": settings.EVIDENCE_MAX_BYTES // 1048576}
        )
    upload.seek(0)
    head = upload.read(8192)
    content_type = magic.from_buffer(head, mime=True)
    if content_type not in ALLOWED_TYPES and head[:2] == b"PK":
        # Office documents are ZIP files; libmagic needs more than the first block to tell.
        upload.seek(0)
        content_type = magic.from_buffer(upload.read(), mime=True)
    if content_type not in ALLOWED_TYPES:
        raise UploadRejected(
            _("不支持该文件类型（检测为 %(detected)s）。可上传：%(allowed)s。")
            % {"detected": content_type, "allowed": "、".join(ALLOWED_TYPES.values())}
        )
    sha256, sm3 = hashlib.sha256(), hashlib.new("sm3")
    upload.seek(0)
    for chunk in upload.chunks():
        sha256.update(chunk)
        sm3.update(chunk)
    upload.seek(0)
    return CheckedUpload(content_type, size, sha256.hexdigest(), sm3.hexdigest(), _safe_name(upload.name or ""))
