"""Due items from a really signed agreement, a confirming court, and payment evidence to upload."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from judicial_link import services
from judicial_link.models import ConfirmationApplication, DueItem
from mediation.models import Case, User
from tests import factories
from tests.judicial_helpers import application_documents, basic_court, clerk_of


def confirm_by_court(case: Case, applicant: User, capture: Any) -> ConfirmationApplication:
    """The joint application to the basic court of the bank's seat, accepted and confirmed."""
    court = basic_court("广州市天河区人民法院", case.institution.region, "J0106")
    clerk = clerk_of(court, "tianhe_clerk")
    with capture(execute=True):
        application = services.submit_application(
            case, actor=applicant, court=court, documents=application_documents(case)
        )
        application = services.accept(application, clerk=clerk, court_case_number="（2026）粤0106民特88号")
        return services.rule(application, clerk=clerk, confirmed=True, reasons="")


def items_of(case: Case) -> list[DueItem]:
    return list(DueItem.objects.filter(case=case).order_by("sequence"))


def make_overdue(item: DueItem, days: int = 3) -> DueItem:
    """Terms cannot be agreed with past dates; time passing is simulated by moving the due date."""
    DueItem.objects.filter(pk=item.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=days))
    item.refresh_from_db()
    return item


def receipt_upload(name: str = "转账回单.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, factories.sample_pdf_bytes("transfer receipt"), content_type="application/pdf")
