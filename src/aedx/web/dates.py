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


class NotADate(ValueError):
    """A date input the portal cannot read."""


def parse_day(text: str) -> dt.date | None:
    """A day typed into a date input: ROC ``115/12/05`` (also ``115-12-05``, ``1151205``, with
    ``民國`` and ``年 月 日``) or ISO ``2026-12-05`` (also ``2026/12/05``); None when blank."""
    cleaned = text.strip().replace("民國", "").replace("年", "/").replace("月", "/").replace("日", "")
    cleaned = cleaned.replace(" ", "").replace("-", "/").replace(".", "/")
    if not cleaned:
        return None
    parts = cleaned.split("/") if "/" in cleaned else _compact(cleaned)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise NotADate(text)
    year, month, day = (int(p) for p in parts)
    if year < 1000:  # an ROC year
        year += ROC_OFFSET
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise NotADate(text) from None


def _compact(digits: str) -> list[str]:
    """``1151205`` (ROC, 7 digits) or ``20261205`` (AD, 8 digits)."""
    if len(digits) in (6, 7):
        return [digits[:-4], digits[-4:-2], digits[-2:]]
    if len(digits) == 8:
        return [digits[:4], digits[4:6], digits[6:]]
    return [digits]


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of a day in Taipei, as UTC (a day's bounds for a query)."""
    return dt.datetime.combine(day, dt.time(), TAIPEI).astimezone(dt.UTC)


def input_value(day: dt.date | None) -> str:
    """A day as a date input shows it back: ``115/12/05``."""
    return roc_text(day) if day is not None else ""


def day_range(since: str, until: str) -> tuple[dt.datetime | None, dt.datetime | None, list[str]]:
    """From the start of the first day typed to the end of the second (both included), as UTC
    instants, either open when blank; and which of ``since``, ``until`` could not be read."""
    bounds: list[dt.datetime | None] = []
    wrong = []
    for name, text, shift in (("since", since, 0), ("until", until, 1)):
        try:
            day = parse_day(text)
        except NotADate:
            day = None
            wrong.append(name)
        bounds.append(day_start(day + dt.timedelta(days=shift)) if day else None)
    return bounds[0], bounds[1], wrong
