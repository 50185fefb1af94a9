"""Republic of China calendar dates written as 7-digit YYYMMDD (ROC year = AD year - 1911)."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl

ROC_OFFSET = 1911
ROC_DATE_PATTERN = r"^[0-9]{7}$"


def parse_roc(value: str) -> dt.date | None:
    """The date a 7-digit ROC date names, or None when it names no day."""
    if len(value) != 7 or not value.isdigit():
        return None
    year, month, day = int(value[:3]) + ROC_OFFSET, int(value[3:5]), int(value[5:])
    if not 1 <= year - ROC_OFFSET < 300:  # no ROC year 000; the platform knows years 001-299
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def format_roc(day: dt.date) -> str:
    return f"{day.year - ROC_OFFSET:03d}{day.month:02d}{day.day:02d}"


_TABLE_SIZE = 3_000_000  # ROC years 001-299, AD 1912-2210


@cache
def _roc_days() -> pl.Series:
    """For every 7-digit number below 3000000, the day it names (days since 1970), or null."""
    days = np.arange(np.datetime64("1912-01-01"), np.datetime64("2211-01-01"), dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    numbers = (years - ROC_OFFSET) * 10000 + months * 100 + day
    table = np.zeros(_TABLE_SIZE, dtype=np.int32)
    known = np.zeros(_TABLE_SIZE, dtype=bool)
    table[numbers] = days.astype(np.int64)
    known[numbers] = True
    return pl.select(pl.when(pl.Series(known)).then(pl.Series(table))).to_series()


def roc_to_date(col: pl.Expr) -> pl.Expr:
    """Vectorised: a 7-digit ROC date string to ``pl.Date``; null where it names no day.

    The number YYYMMDD indexes a table of every real day (month lengths, leap years of the AD
    year), so the conversion is one lookup; ROC year 000 does not exist.
    """
    number = pl.when(col.str.contains(ROC_DATE_PATTERN)).then(col.str.to_integer(strict=False))
    index = pl.when(number < _TABLE_SIZE).then(number)
    return pl.lit(_roc_days()).gather(index).cast(pl.Date)
