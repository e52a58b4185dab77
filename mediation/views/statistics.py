"""Complaint statistics for regulators and the centre: aggregates only, never a single case.

Hot spots by product category and by institution (head office, branches folded in), cases by
state, repeat complaints, and how fast institutions answer (median days from transfer to answer,
share answered within the 15 days of 银行业保险业消费投诉处理管理办法). Everything is computed
with grouped SQL queries; Python only folds the grouped rows (branches into head offices, day
histograms into medians).
"""

from __future__ import annotations

import csv
import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mediation.classification import ProductCategory
from mediation.models import Case, CaseState, ClockKind, Deadline, InstitutionAnswer, Organisation, Role, User
from mediation.staff_forms import StatisticsPeriodForm
from mediation.views.accounts import AuthenticatedRequest

# 银行业保险业消费投诉处理管理办法: institutions answer within 15 days of receiving the complaint.
ANSWER_DAYS = 15


@dataclass
class Row:
    label: str
    total: int = 0
    repeat: int = 0
    transferred: int = 0
    answer_days: Counter[int] = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return sum(self.answer_days.values())

    @property
    def median_days(self) -> float | None:
        return median_from_histogram(self.answer_days)

    @property
    def within_limit_share(self) -> float | None:
        """Share of the answered complaints answered within ``ANSWER_DAYS`` of the transfer."""
        if not self.answered:
            return None
        return sum(n for days, n in self.answer_days.items() if days <= ANSWER_DAYS) / self.answered

    def add(self, other: Row) -> None:
        self.total += other.total
        self.repeat += other.repeat
        self.transferred += other.transferred
        self.answer_days.update(other.answer_days)


def median_from_histogram(histogram: Counter[int]) -> float | None:
    """The median of the values counted in ``histogram`` (value → how many times)."""
    count = sum(histogram.values())
    if count == 0:
        return None
    middle = {(count - 1) // 2, count // 2}
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        upto = seen + histogram[value]
        found.extend(value for position in middle if seen <= position < upto)
        seen = upto
    return sum(found) / len(found)


def _may_see_statistics(user: User) -> bool:
    return user.is_superuser or user.role in (Role.REGULATOR, Role.CASE_MANAGER, Role.ADMIN)


def cases_in_scope(user: User, start: datetime.date, end: datetime.date) -> QuerySet[Case]:
    """Regulators and administrators see every centre; a case manager sees their own centre."""
    cases = Case.objects.filter(created_at__date__gte=start, created_at__date__lte=end)
    if user.role == Role.CASE_MANAGER and not user.is_superuser:
        cases = cases.filter(centre_id=user.organisation_id)
    return cases


def _grouped_rows(cases: QuerySet[Case], group_by: str) -> dict[Any, Row]:
    """Counts, repeats, transfers and the answer-time histogram per value of ``group_by``."""
    rows: dict[Any, Row] = defaultdict(lambda: Row(label=""))
    counts = cases.values(group_by).annotate(total=Count("id"), repeat=Count("id", filter=Q(is_repeat=True))).order_by()
    for item in counts:
        row = rows[item[group_by]]
        row.total, row.repeat = item["total"], item["repeat"]
    transferred = (
        Deadline.objects.filter(case__in=cases, kind=ClockKind.INSTITUTION_ANSWER)
        .values(f"case__{group_by}")
        .annotate(n=Count("case", distinct=True))
        .order_by()
    )
    for item in transferred:
        rows[item[f"case__{group_by}"]].transferred = item["n"]
    # The answer clock starts on the (local) day of the transfer.
    transferred_on = Deadline.objects.filter(case=OuterRef("case"), kind=ClockKind.INSTITUTION_ANSWER).order_by("id")
    answer_days = (
        InstitutionAnswer.objects.filter(case__in=cases)
        .annotate(
            transferred_on=Subquery(transferred_on.values("start_date")[:1]),
            answered_on=TruncDate("created_at"),
        )
        .filter(transferred_on__isnull=False)
        .annotate(days=ExpressionWrapper(F("answered_on") - F("transferred_on"), output_field=DurationField()))
        .values(f"case__{group_by}", "days")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item in answer_days:
        rows[item[f"case__{group_by}"]].answer_days[item["days"].days] += item["n"]
    return dict(rows)


def _head_office_rows(cases: QuerySet[Case]) -> list[Row]:
    by_institution = _grouped_rows(cases, "institution")
    organisations = {
        pk: (parent, name)
        for pk, parent, name in Organisation.objects.filter(kind=Organisation.Kind.INSTITUTION).values_list(
            "pk", "parent_id", "name"
        )
    }

    def head_office(pk: int) -> int:
        seen = {pk}
        while (parent := organisations[pk][0]) is not None and parent not in seen:
            seen.add(parent)
            pk = parent
        return pk

    heads: dict[int, Row] = {}
    for institution, row in by_institution.items():
        head = head_office(institution)
        heads.setdefault(head, Row(label=organisations[head][1])).add(row)
    return _sorted(heads.values())


def _labelled(rows: dict[Any, Row], labels: dict[str, str]) -> list[Row]:
    for key, row in rows.items():
        row.label = labels.get(str(key), str(key))
    return _sorted(rows.values())


def _sorted(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (-row.total, row.label))


@dataclass(frozen=True)
class Report:
    start: datetime.date
    end: datetime.date
    overall: Row
    by_category: list[Row]
    by_institution: list[Row]
    by_state: list[Row]


def build_report(user: User, start: datetime.date, end: datetime.date) -> Report:
    cases = cases_in_scope(user, start, end)
    by_category = _labelled(
        _grouped_rows(cases, "product_category"), {value: str(label) for value, label in ProductCategory.choices}
    )
    overall = Row(label=_("合计"))
    for row in by_category:
        overall.add(row)
    by_state = _labelled(
        {
            item["state"]: Row(label="", total=item["total"])
            for item in cases.values("state").annotate(total=Count("id")).order_by()
        },
        {value: str(label) for value, label in CaseState.choices},
    )
    return Report(
        start=start,
        end=end,
        overall=overall,
        by_category=by_category,
        by_institution=_head_office_rows(cases),
        by_state=by_state,
    )


def _report_for(request: AuthenticatedRequest) -> tuple[StatisticsPeriodForm, Report | None]:
    user = request.user
    if not _may_see_statistics(user):
        raise Http404
    form = StatisticsPeriodForm(request.GET)
    if not form.is_valid():
        return form, None
    return form, build_report(user, form.cleaned_data["start"], form.cleaned_data["end"])


@login_required
@require_GET
def statistics(request: AuthenticatedRequest) -> HttpResponse:
    form, report = _report_for(request)
    return render(
        request,
        "mediation/staff/statistics.html",
        {"form": form, "report": report, "query": request.GET.urlencode(), "answer_days": ANSWER_DAYS},
        status=200 if report is not None else 400,
    )


def _csv_cells(row: Row) -> list[str]:
    share = row.within_limit_share
    median = row.median_days
    return [
        str(row.total),
        str(row.repeat),
        str(row.transferred),
        str(row.answered),
        "" if median is None else f"{median:g}",
        "" if share is None else f"{share * 100:.1f}%",
    ]


@login_required
@require_GET
def statistics_csv(request: AuthenticatedRequest) -> HttpResponse:
    form, report = _report_for(request)
    if report is None:
        return render(request, "mediation/staff/statistics.html", {"form": form, "report": None}, status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fengqiao-statistics-{report.start}-{report.end}.csv"'
    # A byte-order mark so spreadsheet programs read the Chinese labels as UTF-8.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(
        [
            _("维度"),
            _("项目"),
            _("投诉件数"),
            _("重复投诉"),
            _("已转办"),
            _("已答复"),
            _("答复用时中位数（日）"),
            _("%(days)s日内答复占比") % {"days": ANSWER_DAYS},
        ]
    )
    writer.writerow([_("合计"), f"{report.start} – {report.end}", *_csv_cells(report.overall)])
    for row in report.by_category:
        writer.writerow([_("产品类别"), row.label, *_csv_cells(row)])
    for row in report.by_institution:
        writer.writerow([_("被投诉机构"), row.label, *_csv_cells(row)])
    for row in report.by_state:
        writer.writerow([_("案件状态"), row.label, str(row.total), "", "", "", "", ""])
    return response
