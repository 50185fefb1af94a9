"""ROC dates: 民國 year = AD year - 1911, shown in Taipei time, the AD date on hover."""

from __future__ import annotations

import datetime as dt

import pytest
from jinja2 import Environment

from aedx.web import dates
from aedx.web.portal import templates


def test_a_date_is_shown_in_the_roc_calendar_with_the_ad_date_on_hover() -> None:
    assert str(dates.roc(dt.date(2024, 11, 25))) == (
        '<time datetime="2024-11-25" title="2024-11-25">113/11/25</time>'
    )
    assert str(dates.roc("2024-01-05", "long")) == (
        '<time datetime="2024-01-05" title="2024-01-05">民國 113 年 1 月 5 日</time>'
    )
    assert dates.roc_text(dt.date(1912, 1, 1)) == "1/01/01"
    assert dates.roc_text(dt.date(1911, 12, 31)) == "1911-12-31"  # before the ROC: AD
    assert str(dates.roc(None)) == ""


def test_a_moment_is_shown_on_the_day_it_is_in_taipei() -> None:
    late_utc = dt.datetime(2024, 11, 24, 17, 5, tzinfo=dt.UTC)  # 01:05 on the 25th in Taipei
    assert str(dates.roc(late_utc)) == (
        '<time datetime="2024-11-25T01:05:00+08:00" title="2024-11-25 01:05">113/11/25 01:05</time>'
    )
    assert str(dates.roc("2024-11-24T17:05:00+00:00")) == str(dates.roc(late_utc))
    assert str(dates.roc(dt.datetime(2024, 11, 24, 17, 5))) == str(dates.roc(late_utc))  # naive is UTC


def test_the_filter_is_on_the_portal_templates_and_escapes_nothing_twice() -> None:
    assert templates.filters["roc"] is dates.roc
    env = Environment(autoescape=True)
    env.filters["roc"] = dates.roc
    shown = env.from_string("<td>{{ day | roc }}</td>").render(day=dt.date(2024, 11, 25))
    assert shown == '<td><time datetime="2024-11-25" title="2024-11-25">113/11/25</time></td>'


def test_the_audit_log_shows_seconds() -> None:
    moment = dt.datetime(2026, 12, 5, 1, 2, 3, tzinfo=dt.UTC)
    assert str(dates.roc(moment, seconds=True)) == (
        '<time datetime="2026-12-05T09:02:03+08:00" title="2026-12-05 09:02:03">115/12/05 09:02:03</time>'
    )


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("115/12/05", dt.date(2026, 12, 5)),
        ("115/12/5", dt.date(2026, 12, 5)),
        (" 115-12-05 ", dt.date(2026, 12, 5)),
        ("115.12.05", dt.date(2026, 12, 5)),
        ("民國 115/12/05", dt.date(2026, 12, 5)),
        ("民國115年12月5日", dt.date(2026, 12, 5)),
        ("１１５／１２／０５", dt.date(2026, 12, 5)),
        ("1151205", dt.date(2026, 12, 5)),
        ("0990101", dt.date(2010, 1, 1)),
        ("99/1/1", dt.date(2010, 1, 1)),
        ("1/01/01", dt.date(1912, 1, 1)),
        ("2026-12-05", dt.date(2026, 12, 5)),
        ("2026/12/05", dt.date(2026, 12, 5)),
        ("20261205", dt.date(2026, 12, 5)),
        ("113/02/29", dt.date(2024, 2, 29)),
    ],
)
def test_a_day_is_read_in_the_roc_calendar_or_as_iso(typed: str, day: dt.date) -> None:
    assert dates.parse_roc_date(typed) == day


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "115/13/01",
        "115/02/30",
        "114/02/29",
        "0/01/01",
        "000/01/01",
        "12/05",
        "115120",
        "2026-12-05T10:00",
        "115/12/05/01",
        "abc",
        "115//12/05",
        "11512055",
    ],
)
def test_what_is_not_a_day_is_refused(typed: str) -> None:
    with pytest.raises(dates.BadDate):
        dates.parse_roc_date(typed)


def test_a_day_is_shown_again_in_the_roc_calendar_and_bounds_a_taipei_day() -> None:
    assert dates.parse_optional_date("  ") is None
    assert dates.roc_input(dt.date(2026, 12, 5)) == "115/12/05"
    assert dates.roc_input(None) == ""
    assert dates.roc_input_text("2026-12-05") == "115/12/05"
    assert dates.roc_input_text("soon") == "soon"  # shown as typed, beside the error
    assert dates.day_start(dt.date(2026, 12, 5)) == dt.datetime(2026, 12, 4, 16, tzinfo=dt.UTC)
    assert dates.day_end(dt.date(2026, 12, 5)) == dt.datetime(2026, 12, 5, 16, tzinfo=dt.UTC)
    assert dates.parse_roc_date(dates.roc_input(dt.date(2026, 12, 5))) == dt.date(2026, 12, 5)
