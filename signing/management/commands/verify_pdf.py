"""``manage.py verify_pdf FILE [--json]``: the verification page's report on the command line.

Exit status: 0 when every signature is valid and the file was not tampered with, 1 when it was
verified and failed, 2 when the file cannot be read or is not a signed-PDF candidate at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from signing import verify

EXIT_NOT_OK = 1
EXIT_UNREADABLE = 2


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _yes_no(value: bool) -> str:
    return _("是") if value else _("否")


class Command(BaseCommand):
    help = "Verify the signatures of a PDF (pyHanko with difference analysis) against the built-in CA."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the PDF to verify")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc.strerror or exc},
                returncode=EXIT_UNREADABLE,
            ) from None
        try:
            report = verify.verify_pdf(data, size_limit=False)
        except verify.VerificationError as error:
            if options["json"]:
                self.stdout.write(
                    json.dumps({"error": {"code": error.code, "message": error.message}}, ensure_ascii=False)
                )
            raise CommandError(f"{path}: {error.message}", returncode=EXIT_UNREADABLE) from None
        if options["json"]:
            body = report.as_dict()
            match = verify.match_agreement(report)
            body["agreement"] = match.as_dict() if match else None
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._print_report(path, report)
        if not report.ok:
            raise CommandError(report.verdict, returncode=EXIT_NOT_OK)

    def _print_report(self, path: Path, report: verify.PdfReport) -> None:
        write = self.stdout.write
        write(_("文件：%(path)s（%(size)s 字节）") % {"path": path, "size": report.size})
        write(f"SHA-256: {report.sha256}")
        write(f"SM3:     {report.sm3}")
        match = verify.match_agreement(report)
        if match is not None:
            write(
                _(
                    "本平台调解协议 %(case)s 的文件版本 %(revision)s（最新为版本 %(latest)s，已签 %(signed)s / 共 %(total)s）"
                )
                % {
                    "case": match.case_number,
                    "revision": match.revision,
                    "latest": match.latest_revision,
                    "signed": match.signed,
                    "total": match.total,
                }
            )
        for number, sig in enumerate(report.signatures, start=1):
            write("")
            values = {
                "number": number,
                "signer": sig.signer or "—",
                "organisation": sig.organisation,
                "field": sig.field_name,
            }
            if sig.organisation and sig.organisation != sig.signer:
                write(_("签名 %(number)s：%(signer)s（%(organisation)s）[%(field)s]") % values)
            else:
                write(_("签名 %(number)s：%(signer)s [%(field)s]") % values)
            write(
                "  "
                + _("签署时间：%(at)s    时间戳：%(ts)s") % {"at": _when(sig.signed_at), "ts": _when(sig.timestamp_at)}
            )
            write(
                "  "
                + _(
                    "内容完整：%(intact)s    证书可信：%(trusted)s    已吊销：%(revoked)s    签署后有不允许的改动：%(changed)s"
                )
                % {
                    "intact": _yes_no(sig.intact),
                    "trusted": _yes_no(sig.trusted),
                    "revoked": _yes_no(sig.revoked),
                    "changed": _yes_no(sig.changed_after),
                }
            )
            write(f"  {sig.coverage} / {sig.modification_level or '—'}  serial {sig.serial}")
            style = self.style.SUCCESS if sig.ok else self.style.ERROR
            write("  " + style(sig.verdict))
        for stamp in report.timestamps:
            write("")
            write(_("文档时间戳：%(at)s    有效：%(ok)s") % {"at": _when(stamp.timestamp_at), "ok": _yes_no(stamp.ok)})
        write("")
        write((self.style.SUCCESS if report.ok else self.style.ERROR)(report.verdict))
