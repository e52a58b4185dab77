"""Enforcement of a confirmed agreement: the Art 250 limit and the application package.

民事诉讼法 Art 206: a confirmed agreement that one side refuses to perform may be enforced on the
other side's application. Art 235: the court that ruled (the first-instance court) executes its
own ruling, so the package goes to the court that confirmed. Art 250: the application must be
made within two years, counted from the last day of the performance period the document sets; for
performance in instalments, from the due date of the last instalment.

What is computed here is the basic period only: the day after the last performance day starts it
(Art 85: the starting day is not counted), and it ends on the corresponding day two years later
(民法典 Art 202: a period in years ends on the corresponding day, or the month's last day when
there is none — 29 February gives 28 February). Interruption and suspension (Art 250 para 1, by
reference to the rules on limitation periods: a demand for performance, an acknowledgement by the
debtor, force majeure…) and the holiday roll-over of Art 85 may move it; the page says so.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from judicial_link import package as packages
from judicial_link.models import ConfirmationApplication, DueItem, EnforcementPackage
from judicial_link.performance import PerformanceError, people_of, side_of
from mediation import audience, ledger
from mediation.models import Case, User
from mediation.notifications import notify
from signing import services as signing_services
from signing.models import Agreement
from signing.render import render_pdf

LIMIT_YEARS = 2


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The corresponding day ``years`` later; 29 February without one gives 28 February (民法典 Art 202)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class EnforcementLimit:
    """民事诉讼法 Art 250: the basic two-year period to apply for enforcement."""

    last_performance_day: datetime.date
    last_day: datetime.date
    instalments: bool  # the last obligation is an instalment: Art 250 counts from the last instalment

    def days_left(self, today: datetime.date) -> int:
        return (self.last_day - today).days

    def expired(self, today: datetime.date) -> bool:
        return today > self.last_day


def enforcement_limit(items: Sequence[DueItem]) -> EnforcementLimit | None:
    """From the last day any item of the agreement is due (the last instalment's for instalments)."""
    if not items:
        return None
    latest = max(items, key=lambda item: item.due_date)
    return EnforcementLimit(
        last_performance_day=latest.due_date,
        last_day=add_years(latest.due_date, LIMIT_YEARS),
        instalments=latest.kind == DueItem.Kind.INSTALMENT,
    )


def confirming_application(case: Case) -> ConfirmationApplication | None:
    """The application the court confirmed, with its sealed ruling."""
    return (
        ConfirmationApplication.objects.filter(case=case, state=ConfirmationApplication.State.CONFIRMED)
        .exclude(ruling="")
        .select_related("court")
        .order_by("-ruled_at", "-pk")
        .first()
    )


def breached_items(items: Sequence[DueItem], today: datetime.date, *, creditor: str | None = None) -> list[DueItem]:
    """Items overdue or disputed; with ``creditor``, only those owed to that side."""
    return [i for i in items if i.is_breached(today) and (creditor is None or i.payee == creditor)]


def refusal(case: Case, user: User, items: Sequence[DueItem], today: datetime.date) -> PerformanceError | None:
    """Why ``user`` may not apply for enforcement now, or None when they may."""
    side = side_of(user, case)
    if side is None:
        return PerformanceError("not_party", _("只有本案当事人可以申请强制执行。"), forbidden=True)
    if confirming_application(case) is None:
        return PerformanceError(
            "not_confirmed",
            _(
                "调解协议尚未经人民法院裁定确认有效。只有经司法确认的调解协议才能向人民法院申请强制执行（民事诉讼法第二百零六条）。"
            ),
        )
    if not breached_items(items, today, creditor=side):
        return PerformanceError(
            "no_breach",
            _("对方没有逾期未履行或履行有异议的事项，不能申请强制执行。"),
        )
    return None


def _application_form(
    case: Case,
    *,
    applicant: User,
    side: str,
    application: ConfirmationApplication,
    items: Sequence[DueItem],
    limit: EnforcementLimit,
    now: datetime.datetime,
) -> bytes:
    """申请执行书, rendered like the confirmation application form."""
    today = timezone.localdate(now)
    breached = breached_items(items, today, creditor=side)
    outstanding = sum((i.amount for i in breached if i.amount is not None), Decimal("0.00"))
    agreement = Agreement.objects.get(case=case)
    latest = signing_services.latest_revision(agreement)
    with translation.override("zh-hans"):
        context = {
            "case": case,
            "applicant": applicant,
            "applicant_is_consumer": side == DueItem.Side.CONSUMER,
            "consumers": audience.consumers(case),
            "application": application,
            "court": application.court,
            "ruled_date": f"{timezone.localdate(application.ruled_at or now):%Y年%m月%d日}",
            "effective_date": f"{timezone.localdate(agreement.effective_at or now):%Y年%m月%d日}",
            "agreement_sha256": latest.sha256 if latest else "",
            "ruling_sha256": application.ruling_sha256,
            "breached": breached,
            "outstanding": outstanding,
            "today": today,
            "limit": limit,
            "last_performance_date": f"{limit.last_performance_day:%Y年%m月%d日}",
            "limit_date": f"{limit.last_day:%Y年%m月%d日}",
            "days_left": limit.days_left(today),
            "created_w3c": now.isoformat(),
            "modified_w3c": now.isoformat(),
            "date_cn": f"{today:%Y年%m月%d日}",
        }
    identifier = hashlib.sha256(f"enforcement:{case.pk}:{now.isoformat()}".encode()).hexdigest()[:32]
    return render_pdf("judicial_link/pdf/enforcement_application.html", context, identifier=identifier)


def build_enforcement_package(case: Case, *, actor: User, ip: str | None = None) -> EnforcementPackage:
    """One action: check the conditions, render the application form, build, sign and store the package.

    Slow work (rendering, hashing, signing the manifest) runs outside the transaction; the package
    is stored with a ledger entry only if the conditions still hold under the case lock.
    """
    today = timezone.localdate()
    items = list(DueItem.objects.filter(case=case).order_by("sequence"))
    problem = refusal(case, actor, items, today)
    if problem is not None:
        raise problem
    side = side_of(actor, case)
    application = confirming_application(case)
    limit = enforcement_limit(items)
    if side is None or application is None or limit is None:  # refusal() has checked each; for the types
        raise PerformanceError("not_ready", _("尚不满足申请强制执行的条件。"))
    now = timezone.now()
    form = _application_form(
        case, applicant=actor, side=side, application=application, items=items, limit=limit, now=now
    )
    with translation.override("zh-hans"):
        title = _("强制执行申请书")
    extra = [packages.PackageFile("application/enforcement-application.pdf", "enforcement_application", title, form)]
    try:
        built = packages.build_package(case, purpose="enforcement", court=application.court, extra_files=extra)
    except packages.PackageError as error:
        raise PerformanceError(error.code, error.message) from error
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        manifest_sha256 = hashlib.sha256(archive.read(packages.MANIFEST)).hexdigest()
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("centre", "institution").get(pk=case.pk)
        items = list(DueItem.objects.filter(case=case).order_by("sequence"))
        problem = refusal(case, actor, items, timezone.localdate())
        if problem is not None:
            raise problem
        stored = EnforcementPackage(
            case=case,
            application=application,
            court=application.court,
            built_by=actor,
            last_performance_day=limit.last_performance_day,
            limit_date=limit.last_day,
            package_size=len(built.zip_bytes),
            package_sha256=built.sha256,
            package_sm3=built.sm3,
            manifest_sha256=manifest_sha256,
        )
        stored.package.save(built.file_name, ContentFile(built.zip_bytes), save=False)
        stored.save()
        ledger.record(
            "judicial.enforcement.package_built",
            actor=actor,
            case=case,
            ip=ip,
            data={
                "package": stored.pk,
                "court": application.court_id,
                "application": application.pk,
                "limit_date": limit.last_day.isoformat(),
                "breached_items": [i.sequence for i in breached_items(items, today, creditor=side)],
                "package_sha256": built.sha256,
                "package_sm3": built.sm3,
                "manifest_sha256": manifest_sha256,
            },
        )
        recipients = people_of(DueItem.Side.CONSUMER, case) + people_of(DueItem.Side.INSTITUTION, case)
        recipients += audience.case_managers(case)
        message = _("%(name)s已生成向%(court)s申请强制执行的材料包。") % {
            "name": actor.display_name,
            "court": application.court.name,
        }
        transaction.on_commit(
            lambda: notify(recipients, "judicial.enforcement.package_built", message, case=case), robust=True
        )
    return stored
