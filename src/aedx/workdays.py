"""Working days of Taiwan's government offices (中華民國政府行政機關辦公日曆表).

The calendar the Directorate-General of Personnel Administration publishes each year names every
day off (national holidays, bridge days) and every make-up working day (補行上班, often a
Saturday). The bundled years come from the ``taiwan-holidays`` package's copies of those CSV files;
a newer year can be loaded without a release by pointing ``AEDX_HOLIDAY_CALENDAR`` at the file as
the government publishes it (``西元日期,星期,是否放假,備註``; 是否放假 2 is a day off, 0 a working
day). A day outside every known year falls back to Monday to Friday.

Expected-file alerts use it, and the money rules (``aedx.money``) move a deadline that falls on a
day off to the next working day with the same ``Calendar``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DAY_OFF = "2"  # 是否放假: 2 a day off, 0 a working day


@dataclass(frozen=True)
class Calendar:
    days: Mapping[dt.date, bool]  # True for a working day, for every day of the known years

    def is_working_day(self, day: dt.date) -> bool:
        known = self.days.get(day)
        return day.weekday() < 5 if known is None else known

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (before it when ``n`` is negative)."""
        step = dt.timedelta(days=1 if n >= 0 else -1)
        left = abs(n)
        while left:
            day += step
            left -= self.is_working_day(day)
        return day

    def working_days_between(self, first: dt.date, last: dt.date) -> int:
        """How many working days from ``first`` to ``last``, both included."""
        span = (last - first).days + 1
        return sum(self.is_working_day(first + dt.timedelta(days=i)) for i in range(max(span, 0)))


def parse(text: str) -> dict[dt.date, bool]:
    """The days of one calendar file in the government's layout."""
    days: dict[dt.date, bool] = {}
    for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
        stamp = (row.get("西元日期") or "").strip().replace("-", "").replace("/", "")
        flag = (row.get("是否放假") or "").strip()
        if len(stamp) != 8 or not stamp.isdigit() or flag not in ("0", DAY_OFF):
            raise ValueError(f"not a government-office calendar row: {row}")
        days[dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))] = flag != DAY_OFF
    return days


def _bundled_files() -> Iterable[str]:
    folder = resources.files("taiwan_holidays") / "data"
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".csv"):
            yield item.read_text(encoding="utf-8-sig")


@functools.cache
def calendar(newer: Path | None = None) -> Calendar:
    """The bundled years, with the days of ``newer`` (a file in the government's layout) over them."""
    days: dict[dt.date, bool] = {}
    for text in _bundled_files():
        days.update(parse(text))
    if newer is not None:
        days.update(parse(newer.read_text(encoding="utf-8-sig")))
    return Calendar(days)
