"""The government-office calendar: holidays off, make-up Saturdays on, a newer year loadable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aedx import workdays

D = dt.date


def test_the_bundled_calendar_knows_taiwans_holidays_and_make_up_days() -> None:
    cal = workdays.calendar()
    assert not cal.is_working_day(D(2025, 1, 28))  # 農曆除夕, a Tuesday
    assert not cal.is_working_day(D(2025, 10, 10))  # 國慶日, a Friday
    assert cal.is_working_day(D(2025, 2, 8))  # 補行上班, a Saturday
    assert not cal.is_working_day(D(2026, 1, 1))  # 開國紀念日, a Thursday
    assert not cal.is_working_day(D(2026, 2, 20))  # 補假 after 春節, a Friday
    assert not cal.is_working_day(D(2026, 9, 28))  # 教師節, a Monday
    assert cal.is_working_day(D(2026, 2, 23)) and not cal.is_working_day(D(2026, 2, 21))
    # The Friday before the 2026 New Year break, then the Monday after it.
    assert cal.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 23)
    assert cal.add_working_days(D(2026, 2, 23), -1) == D(2026, 2, 13)
    assert cal.working_days_between(D(2025, 2, 3), D(2025, 2, 9)) == 6  # Monday to Sunday, with 2/8


def test_a_year_outside_the_calendar_counts_monday_to_friday() -> None:
    cal = workdays.calendar()
    assert cal.is_working_day(D(2040, 1, 2)) and not cal.is_working_day(D(2040, 1, 7))


def test_a_newer_calendar_is_loaded_from_the_governments_file(tmp_path: Path) -> None:
    newer = tmp_path / "117年中華民國政府行政機關辦公日曆表.csv"
    newer.write_text(
        "\ufeff西元日期,星期,是否放假,備註\n20400102,一,2,假日\n20400107,六,0,補行上班\n", encoding="utf-8"
    )
    cal = workdays.calendar(newer)
    assert not cal.is_working_day(D(2040, 1, 2)) and cal.is_working_day(D(2040, 1, 7))
    assert not cal.is_working_day(D(2026, 1, 1))  # the bundled years still hold
    bad = tmp_path / "bad.csv"
    bad.write_text("date,working\n2040-01-02,no\n", encoding="utf-8")
    with pytest.raises(ValueError, match="calendar row"):
        workdays.calendar(bad)
