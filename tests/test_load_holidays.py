"""``manage.py load_holidays``: a year's published schedule from a text file, all or nothing."""

from __future__ import annotations

import datetime
from io import StringIO
from pathlib import Path

import chinese_calendar
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from mediation import clocks
from mediation.clocks import WorkingCalendar
from mediation.models import CalendarDay, CalendarYear, Case, ClockKind, LedgerEntry

D = datetime.date
SAMPLE_2026 = Path(settings.BASE_DIR) / "mediation" / "data" / "holidays-2026.txt"

# A made-up 2027 schedule in the published shape (the real notice is not out yet).
SCHEDULE_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知（测试用）
2027-01-01 holiday 元旦

2027-02-06..2027-02-13 holiday 春节
2027-02-14 workday 春节调休   # a Sunday worked
"""


def write(tmp_path: Path, text: str, name: str = "holidays.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_holidays", *args, stdout=out)
    return out.getvalue()


def test_sample_2026_file_reproduces_the_package_for_every_day_of_the_year(db: None) -> None:
    output = load(str(SAMPLE_2026), "--year", "2026")

    calendar = WorkingCalendar()
    day = D(2026, 1, 1)
    while day.year == 2026:
        assert calendar.is_workday(day) == (chinese_calendar.is_workday(day), False), day
        day += datetime.timedelta(days=1)
    assert "放假 33 天，调休上班 6 天" in output
    assert "内置数据已被本次载入的安排取代" in output
    assert CalendarYear.objects.get(year=2026).source == "holidays-2026.txt"


def test_loading_2027_stores_the_days_and_recomputes_a_provisional_deadline(
    submitted_case: Case, tmp_path: Path
) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2027, 1, 5))
    # 5 Jan + 30 = Thursday 4 Feb, guessed as a working day.
    assert (term.due_date, term.provisional) == (D(2027, 2, 4), True)

    output = load(str(write(tmp_path, SCHEDULE_2027)), "--year", "2027", "--source", "国办发明电（测试）")

    year = CalendarYear.objects.get(year=2027)
    assert year.source == "国办发明电（测试）"
    assert CalendarDay.objects.filter(year=year, is_workday=False).count() == 9
    assert list(CalendarDay.objects.filter(year=year, is_workday=True).values_list("date", "name")) == [
        (D(2027, 2, 14), "春节调休")
    ]
    term.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 2, 4), False)
    assert "重算期限 1 个" in output
    assert "内置数据" not in output


def test_a_due_date_landing_in_the_loaded_holiday_moves_after_it(submitted_case: Case, tmp_path: Path) -> None:
    term = clocks.start_clock(submitted_case, ClockKind.MEDIATION_TERM, start=D(2027, 1, 8))
    assert term.due_date == D(2027, 2, 8)  # a Monday on the Monday–Friday guess

    load(str(write(tmp_path, SCHEDULE_2027)), "--year", "2027")

    term.refresh_from_db()
    assert (term.due_date, term.provisional) == (D(2027, 2, 14), False)  # the adjusted Sunday


def test_a_bad_file_names_every_bad_line_and_changes_nothing(db: None, tmp_path: Path) -> None:
    load(str(write(tmp_path, SCHEDULE_2027)), "--year", "2027", "--source", "第一版")
    bad = write(
        tmp_path,
        "2027-01-01 holiday 元旦\n"
        "2027-02-30 holiday 春节\n"  # line 2: no such date
        "2027-03-01 vacation\n"  # line 3: unknown kind
        "2027-03-02 workday 调休\n"  # line 4: a Tuesday cannot be an adjusted workday
        "2026-12-31 holiday 元旦\n"  # line 5: wrong year
        "2027-01-01 holiday 重复\n"  # line 6: duplicate of line 1
        "2027-05-05..2027-05-01 holiday 劳动节\n"  # line 7: range backwards
        "2027-05-01\n",  # line 8: no kind
        "bad.txt",
    )

    with pytest.raises(CommandError) as raised:
        load(str(bad), "--year", "2027", "--source", "第二版")

    message = str(raised.value)
    for line in (2, 3, 4, 5, 6, 7, 8):
        assert f"第 {line} 行" in message
    assert "第 1 行：" not in message
    assert "未作任何修改" in message
    assert CalendarYear.objects.get(year=2027).source == "第一版"
    assert CalendarDay.objects.filter(date__year=2027).count() == 10
    assert LedgerEntry.objects.filter(action="mediation.calendar.changed").count() == 1


def test_reloading_a_year_replaces_its_previous_days(db: None, tmp_path: Path) -> None:
    load(str(write(tmp_path, SCHEDULE_2027)), "--year", "2027")
    load(
        str(write(tmp_path, "2027-01-01 holiday 元旦\n2027-01-02 休\n2027-02-07 班 调休\n", "v2.txt")), "--year", "2027"
    )

    days = list(CalendarDay.objects.filter(date__year=2027).values_list("date", "is_workday"))
    assert days == [(D(2027, 1, 1), False), (D(2027, 1, 2), False), (D(2027, 2, 7), True)]
    assert WorkingCalendar().is_workday(D(2027, 2, 8)) == (True, False)  # no longer in the holiday


def test_an_empty_file_is_refused(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="没有任何节假日"):
        load(str(write(tmp_path, "# nothing yet\n")), "--year", "2027")
    assert not CalendarYear.objects.exists()


def test_a_missing_file_is_refused(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="无法读取"):
        load(str(tmp_path / "absent.txt"), "--year", "2027")


def test_the_year_must_be_given(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        load(str(write(tmp_path, SCHEDULE_2027)))
    assert not CalendarYear.objects.exists()
