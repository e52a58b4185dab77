"""``manage.py load_demo``: demo organisations, one login per role, and a case in every state.

Safe to run again (``make run`` does, on every start): it adds only what is missing and prints
the demo logins each time.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.test.utils import override_settings
from django.utils.translation import gettext as _

from mediation.demo import load_demo

# Published on purpose: these accounts exist only in demo databases.
DEMO_PASSWORD = "fengqiao-demo-2024"


class Command(BaseCommand):
    help = "加载演示数据（可重复运行），并列出演示账户。"

    def handle(self, *args: Any, **options: Any) -> None:
        # The seeded history is not news: its notifications stay in-app and no e-mail goes out,
        # even where a real mail server is configured.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            result = load_demo(DEMO_PASSWORD)
        self.stdout.write(
            _("演示案件：本次新建 %(created)s 件，共 %(total)s 件。")
            % {"created": result.cases_created, "total": result.cases_total}
        )
        width = max(len(login.username) for login in result.logins)
        self.stdout.write("")
        username, password, role = _("用户名"), _("密码"), _("角色")
        self.stdout.write(f"{username.ljust(width)}  {password.ljust(len(DEMO_PASSWORD))}  {role}")
        for login in result.logins:
            self.stdout.write(f"{login.username.ljust(width)}  {login.password}  {login.role}")
        self.stdout.write(self.style.WARNING(_("已有账户不会被重置；如密码已修改，请使用修改后的密码。")))
