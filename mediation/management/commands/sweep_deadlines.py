"""``manage.py sweep_deadlines``: reminders and escalations for the legal clocks (cron, every minute)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from mediation.sweep import sweep_deadlines


class Command(BaseCommand):
    help = "发送期限提醒，并将已超期的期限升级给调解中心（可重复运行，不会重复发送）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", help="按此日期（YYYY-MM-DD）检查，默认为北京时间今天。")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options["today"]:
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(_("--today 应写作 YYYY-MM-DD。")) from None
        result = sweep_deadlines(today)
        self.stdout.write(
            _(
                "已发送提醒 %(reminders)s 条，超期升级 %(escalations)s 件，启动指定调解员期限 %(assignments)s 件，"
                "释放逾期未答复的调解员 %(released)s 件。"
            )
            % {
                "reminders": result.reminders,
                "escalations": result.escalations,
                "assignments": result.assignment_clocks,
                "released": result.released_mediators,
            }
        )
