"""``manage.py load_holidays FILE --year 2027``: load a year's official holidays and adjusted workdays.

The file holds the State Council notice, one line per day or run of days (format in
``mediation.clocks``; ``mediation/data/holidays-2026.txt`` is a complete example). The file is
checked as a whole first: a bad line changes nothing, and every bad line is named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from mediation import clocks


class Command(BaseCommand):
    help = "载入某年国务院公布的节假日及调休上班日安排（替换该年已有数据），并重算受影响的期限。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="节假日安排文件（UTF-8，每行「日期 holiday|workday 名称」）。")
        parser.add_argument("--year", type=int, required=True, help="文件所列年份，每个日期都须属于该年。")
        parser.add_argument("--source", default="", help="依据，例如国务院办公厅通知的文号；默认为文件名。")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        year: int = options["year"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(_("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc}) from None
        try:
            entries = clocks.parse_calendar_text(text.splitlines(), year)
            loaded = clocks.load_calendar_year(year, entries, source=options["source"] or path.name)
        except clocks.CalendarFileError as exc:
            raise CommandError(
                _("%(path)s 有误，未作任何修改：") % {"path": path} + "\n" + "\n".join(exc.errors)
            ) from None
        if clocks.builtin_knows_year(year):
            self.stdout.write(_("注意：%(year)s 年的内置数据已被本次载入的安排取代。") % {"year": year})
        self.stdout.write(
            _(
                "已载入 %(year)s 年节假日安排：放假 %(holidays)s 天，调休上班 %(workdays)s 天；重算期限 %(recomputed)s 个。"
            )
            % {
                "year": year,
                "holidays": loaded.holidays,
                "workdays": loaded.workdays,
                "recomputed": loaded.recomputed,
            }
        )
