"""Dates as people in Taiwan read them: the ROC (民國) calendar, year 1 = 1912, shown in Taipei
time, with the AD date kept machine-readable and on hover."""

from __future__ import annotations

import datetime as dt
import re

from markupsafe import Markup, escape

from aedx.settings import TAIPEI

ROC_OFFSET = 1911
# Digits and separators typed with a Chinese input method come full width.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９／－．", "0123456789/-.")


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


def roc(value: dt.date | dt.datetime | str | None, style: str = "short", *, seconds: bool = False) -> Markup:
    """The Jinja filter: a ``<time>`` element with the ROC date shown and the AD date in its
    ``datetime`` and ``title``; a datetime (UTC when naive) is shown in Taipei with its minutes, or
    its seconds where the order of events matters (the audit log)."""
    if value is None or value == "":
        return Markup("")
    local = _local(value)
    if isinstance(local, dt.datetime):
        machine = local.isoformat(timespec="seconds")
        clock = "%H:%M:%S" if seconds else "%H:%M"
        ad = local.strftime(f"%Y-%m-%d {clock}")
        shown = f"{roc_text(local.date(), style)} {local.strftime(clock)}"
    else:
        machine = ad = local.isoformat()
        shown = roc_text(local, style)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(machine, ad, escape(shown))


# What a person may type for a day: ROC (``115/12/05``, ``115-12-5``, ``民國 115 年 12 月 5 日``,
# ``1151205``), or AD (``2026-12-05``, ``2026/12/05``, ``20261205``). A year of four digits is AD,
# of one to three digits ROC; seven bare digits are ROC (YYYMMDD), eight AD (YYYYMMDD).
_SEPARATED = re.compile(r"(\d{1,4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"(\d{3}|\d{4})(\d{2})(\d{2})")
_PREFIX = re.compile(r"^(民國|民|中華民國|roc)\s*", re.IGNORECASE)


class BadDate(ValueError):
    """What a person typed is not a day; the message says how to write one."""

    message_zh = "日期請寫成民國年/月/日，例如 115/12/05（或 1151205、2026-12-05）"
    message_en = "Write a day as ROC year/month/day, e.g. 115/12/05 (or 1151205, 2026-12-05)"

    def __init__(self, text: str) -> None:
        super().__init__(f"not a day: {text!r}")
        self.text = text


def parse_roc_date(text: str) -> dt.date:
    """The day a person typed, ROC or AD (see above); ``BadDate`` when it is none."""
    cleaned = _PREFIX.sub("", text.strip().translate(_FULL_WIDTH)).strip()
    match = _SEPARATED.fullmatch(cleaned) or _COMPACT.fullmatch(cleaned)
    if match is None:
        raise BadDate(text)
    year_text, month, day = match.groups()
    year = int(year_text) if len(year_text) == 4 else int(year_text) + ROC_OFFSET
    if int(year_text) == 0:
        raise BadDate(text)
    try:
        return dt.date(year, int(month), int(day))
    except ValueError:
        raise BadDate(text) from None


def parse_optional_date(text: str | None) -> dt.date | None:
    """``parse_roc_date`` for an optional filter: nothing typed is no day."""
    if text is None or not text.strip():
        return None
    return parse_roc_date(text)


def roc_input(day: dt.date | None) -> str:
    """The value a date field shows: ``115/12/05``; empty for no day."""
    return "" if day is None else roc_text(day)


def roc_input_text(text: dt.date | str | None) -> str:
    """A date field's value (the Jinja filter ``roc_input``): a day, or the text as typed shown
    again in the ROC calendar when it is a day (so an ISO link such as ``?since=2026-12-05`` reads
    ``115/12/05``) and as typed when it is not."""
    if isinstance(text, dt.date):
        return roc_input(text)
    try:
        return roc_input(parse_optional_date(text))
    except BadDate:
        return text or ""


def day_start(day: dt.date) -> dt.datetime:
    """The moment (UTC) a day begins in Taipei: the lower bound of a search by day."""
    return dt.datetime.combine(day, dt.time(), TAIPEI).astimezone(dt.UTC)


def day_end(day: dt.date) -> dt.datetime:
    """The moment (UTC) the next day begins in Taipei: the exclusive upper bound of a search."""
    return day_start(day + dt.timedelta(days=1))


def day_range(since: str, until: str) -> tuple[dt.datetime | None, dt.datetime | None, list[str]]:
    """From the start of the first day typed to the end of the second (both included), as UTC
    instants, either open when blank; and which of ``since``, ``until`` could not be read."""
    bounds: list[dt.datetime | None] = []
    wrong = []
    for name, text, end in (("since", since, False), ("until", until, True)):
        try:
            day = parse_optional_date(text)
        except BadDate:
            day = None
            wrong.append(name)
        bounds.append(None if day is None else day_end(day) if end else day_start(day))
    return bounds[0], bounds[1], wrong
