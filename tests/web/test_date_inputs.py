"""Date inputs: a day typed in the ROC calendar or in ISO, and the Taipei day's bounds in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from aedx.web.dates import BadDate, day_range, parse_optional_date


def test_date_inputs_take_roc_and_iso_days() -> None:
    day = dt.date(2026, 12, 5)
    for typed in ("115/12/05", "115-12-05", "1151205", "民國 115 年 12 月 5 日", " 115/12/5 ", "2026-12-05",
                  "2026/12/05", "20261205"):  # fmt: skip
        assert parse_optional_date(typed) == day, typed
    assert parse_optional_date("") is None and parse_optional_date("  ") is None
    for wrong in ("12/05", "115/13/01", "115/02/30", "soon", "1/2/3/4"):
        with pytest.raises(BadDate):
            parse_optional_date(wrong)


def test_a_range_of_days_runs_from_midnight_to_midnight_in_taipei() -> None:
    since, until, unreadable = day_range("115/12/05", "2026-12-05")
    assert since == dt.datetime(2026, 12, 4, 16, tzinfo=dt.UTC)
    assert until == dt.datetime(2026, 12, 5, 16, tzinfo=dt.UTC) and unreadable == []
    assert day_range("", "x") == (None, None, ["until"])
