"""``manage.py alert_overdue_items``: tell the centre and both sides about overdue due items (cron, every minute)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from judicial_link.performance import alert_overdue


class Command(BaseCommand):
    help = "提醒调解中心和双方当事人：调解协议的履行事项已逾期（可重复运行，每项只提醒一次）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", help="按此日期（YYYY-MM-DD）检查，默认为北京时间今天。")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options["today"]:
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(_("--today 应写作 YYYY-MM-DD。")) from None
        sent = alert_overdue(today)
        self.stdout.write(_("已就 %(count)s 项逾期履行事项发出提醒。") % {"count": sent})
