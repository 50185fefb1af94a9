"""Republic of China calendar dates written as 7-digit YYYMMDD (ROC year = AD year - 1911)."""

from __future__ import annotations

import datetime as dt

import polars as pl

ROC_OFFSET = 1911
ROC_DATE_PATTERN = r"^[0-9]{7}$"


def parse_roc(value: str) -> dt.date | None:
    """The date a 7-digit ROC date names, or None when it names no day."""
    if len(value) != 7 or not value.isdigit():
        return None
    year, month, day = int(value[:3]) + ROC_OFFSET, int(value[3:5]), int(value[5:])
    if year == ROC_OFFSET:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def format_roc(day: dt.date) -> str:
    return f"{day.year - ROC_OFFSET:03d}{day.month:02d}{day.day:02d}"


def roc_to_date(col: pl.Expr) -> pl.Expr:
    """Vectorised: a 7-digit ROC date string to ``pl.Date``; null where it names no day.

    Day validity is computed arithmetically (month lengths, Gregorian leap years of the AD
    year) so that no invalid day ever reaches a date constructor.
    """
    number = pl.when(col.str.contains(ROC_DATE_PATTERN)).then(col.str.to_integer(strict=False))
    year = number // 10000 + ROC_OFFSET
    month = number // 100 % 100
    day = number % 100
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_length = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    valid = (year > ROC_OFFSET) & month.is_between(1, 12) & day.is_between(1, month_length)
    # days_from_civil (proleptic Gregorian), so the conversion is integer arithmetic only.
    y = year - (month <= 2).cast(pl.Int64)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return pl.when(valid).then(days).cast(pl.Int32).cast(pl.Date)
