"""``manage.py verify_package FILE.zip [--json] [--root root.crt]``: check a court package.

The manifest signature (against our root, or the root given with ``--root`` that a court obtained
out of band), every listed file's size, SHA-256 and SM3, unlisted files, SHA256SUMS, and the
signatures inside the signed PDFs. Exit status: 0 when everything checks out, 1 when the package
was checked and something is wrong, 2 when the file (or the root certificate) cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from judicial_link import package

EXIT_NOT_OK = 1
EXIT_UNREADABLE = 2


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(
            _("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc.strerror or exc},
            returncode=EXIT_UNREADABLE,
        ) from None


class Command(BaseCommand):
    help = "Verify a court package ZIP: manifest signature, every file's hashes, the signed PDFs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the package ZIP")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--root", metavar="ROOT.crt", help="trust this root certificate (PEM or DER) instead of this platform's"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        data = _read(path)
        root = _read(Path(options["root"])) if options["root"] else None
        try:
            report = package.verify_package(data, trust_root_pem=root)
        except package.PackageUnreadableError as error:
            if options["json"]:
                self.stdout.write(
                    json.dumps({"error": {"code": error.code, "message": error.message}}, ensure_ascii=False)
                )
            raise CommandError(f"{path}: {error.message}", returncode=EXIT_UNREADABLE) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            self._print_report(path, report)
        if not report.ok:
            raise CommandError(_verdict(report), returncode=EXIT_NOT_OK)

    def _print_report(self, path: Path, report: package.PackageReport) -> None:
        write = self.stdout.write
        write(_("材料包：%(path)s（%(size)s 字节）") % {"path": path, "size": report.size})
        write(f"SHA-256: {report.sha256}")
        write(f"SM3:     {report.sm3}")
        if report.case_number:
            write(
                _("案件：%(case)s    用途：%(purpose)s    生成时间：%(created)s")
                % {"case": report.case_number, "purpose": report.purpose, "created": report.created_at or "—"}
            )
        if report.signer:
            signed_at = (
                timezone.localtime(report.signed_at).strftime("%Y-%m-%d %H:%M:%S %Z") if report.signed_at else "—"
            )
            write(_("清单签署人：%(signer)s    签署时间：%(at)s") % {"signer": report.signer, "at": signed_at})
        write(_("所信任的根证书 SHA-256 指纹：%(fingerprint)s") % {"fingerprint": report.trust_root_sha256})
        write("")
        for check in report.files:
            label = self.style.SUCCESS(_("通过")) if check.ok else self.style.ERROR(_("未通过"))
            write(f"[{label}] {check.path}  {check.title}  " + _("%(size)s 字节") % {"size": check.size})
            if check.pdf is not None:
                write("    " + _("电子签名：%(verdict)s") % {"verdict": check.pdf.verdict})
        if report.problems:
            write("")
            write(_("发现的问题："))
            for problem in report.problems:
                write("  - " + self.style.ERROR(problem.message))
        write("")
        write((self.style.SUCCESS if report.ok else self.style.ERROR)(_verdict(report)))


def _verdict(report: package.PackageReport) -> str:
    if report.ok:
        return _("材料包核验通过：清单签名有效，%(count)s 个文件均与清单一致，其中的电子签名均有效。") % {
            "count": len(report.files)
        }
    return _("材料包未通过核验，共发现 %(count)s 个问题。") % {"count": len(report.problems)}
