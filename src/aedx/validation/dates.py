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

    Adding 19110000 turns YYYMMDD into the AD YYYYMMDD, which the date parser checks for real
    days (month lengths and leap years of the AD year). ROC year 000 does not exist.
    """
    number = pl.when(col.str.contains(ROC_DATE_PATTERN)).then(col.str.to_integer(strict=False))
    ad = pl.when(number >= 10101).then(number + ROC_OFFSET * 10000)
    return ad.cast(pl.String).str.to_date("%Y%m%d", strict=False)
