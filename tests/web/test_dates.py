"""ROC dates: 民國 year = AD year - 1911, shown in Taipei time, the AD date on hover."""

from __future__ import annotations

import datetime as dt

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
