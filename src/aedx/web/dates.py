"""Dates as people in Taiwan read them: the ROC (民國) calendar, year 1 = 1912, shown in Taipei
time, with the AD date kept machine-readable and on hover."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

from aedx.settings import TAIPEI

ROC_OFFSET = 1911


def _local(value: dt.date | dt.datetime | str) -> dt.date | dt.datetime:
    if isinstance(value, str):
        value = (
            dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
        )
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(TAIPEI)
    return value


def roc_text(day: dt.date, style: str = "short") -> str:
    """``113/11/25`` (short) or ``民國 113 年 11 月 25 日`` (long); AD before 1912."""
    year = day.year - ROC_OFFSET
    if year < 1:
        return day.isoformat()
    if style == "long":
        return f"民國 {year} 年 {day.month} 月 {day.day} 日"
    return f"{year}/{day.month:02d}/{day.day:02d}"


def roc(value: dt.date | dt.datetime | str | None, style: str = "short") -> Markup:
    """The Jinja filter: a ``<time>`` element with the ROC date shown and the AD date in its
    ``datetime`` and ``title``; a datetime (UTC when naive) is shown in Taipei with its minutes."""
    if value is None or value == "":
        return Markup("")
    local = _local(value)
    if isinstance(local, dt.datetime):
        machine = local.isoformat(timespec="seconds")
        ad = local.strftime("%Y-%m-%d %H:%M")
        shown = f"{roc_text(local.date(), style)} {local:%H:%M}"
    else:
        machine = ad = local.isoformat()
        shown = roc_text(local, style)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(machine, ad, escape(shown))
