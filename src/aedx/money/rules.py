"""The money rules as data: one row per debt category, and the interest-rate table by year.

Both tables are bundled in ``aedx/refdata`` (``money_rules.csv``, ``interest_rates.csv``; columns in
``refdata/money.md``). A rate table can be replaced by a CSV ``year,rate_percent`` without a release.

Where the domain notes leave a value open, the row follows the law it cites: ``occupational`` has the
15-day grace of 勞工保險條例 §17, which 勞工職業災害保險及保護法 §21 copies (unverified); fines and fees
(行政罰法) carry neither late fee nor interest. The 2026 rate repeats 2025's (the post office's rate did
not change during 2025; unverified) so that this year's cases can be computed.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources

from aedx.errors import Invalid

RULES_FILE = "money_rules.csv"
RATES_FILE = "interest_rates.csv"


class Rounding(enum.Enum):
    """How an exact amount becomes whole NT$."""

    TRUNCATE = "truncate"  # toward zero: the tax acts' practice of dropping fractions of a dollar
    HALF_UP = "half_up"  # 四捨五入: the insurers' late fees


class InterestBasis(enum.Enum):
    NONE = "none"
    PRINCIPAL = "principal"  # on the amount owed, never on the late fee


@dataclass(frozen=True)
class CategoryRule:
    """One debt category's late fee and interest (see ``refdata/money.md`` for each column)."""

    category: str
    label_zh: str
    law: str
    grace_days: int
    step_days: int
    step_percent: Decimal
    cap_percent: Decimal
    interest_basis: InterestBasis
    interest_after_days: int
    rounding: Rounding


class UnknownCategory(Invalid):
    code = "money.unknown_category"


class MissingRate(Invalid):
    code = "money.missing_rate"


class BadRates(Invalid):
    code = "money.bad_rates"


def _bundled(name: str) -> str:
    return resources.files("aedx.refdata").joinpath(name).read_text(encoding="utf-8")


def _rule(row: Mapping[str, str]) -> CategoryRule:
    return CategoryRule(
        category=row["category"],
        label_zh=row["label_zh"],
        law=row["law"],
        grace_days=int(row["grace_days"]),
        step_days=int(row["step_days"]),
        step_percent=Decimal(row["step_percent"]),
        cap_percent=Decimal(row["cap_percent"]),
        interest_basis=InterestBasis(row["interest_basis"]),
        interest_after_days=int(row["interest_after_days"]),
        rounding=Rounding(row["rounding"]),
    )


@functools.cache
def category_rules() -> dict[str, CategoryRule]:
    """The bundled rules by category code."""
    rows = csv.DictReader(io.StringIO(_bundled(RULES_FILE)))
    return {rule.category: rule for rule in map(_rule, rows)}


def category_rule(category: str) -> CategoryRule:
    rules = category_rules()
    if category not in rules:
        known = ", ".join(rules)
        raise UnknownCategory(f"未知的債務類別「{category}」（可用：{known}）",
                              f"unknown debt category {category!r} (known: {known})")  # fmt: skip
    return rules[category]


@dataclass(frozen=True)
class RateTable:
    """The Chunghwa Post 1-year fixed deposit rate (percent) as of 1 January, by year."""

    percent_by_year: Mapping[int, Decimal]

    def percent(self, year: int) -> Decimal:
        if year not in self.percent_by_year:
            raise MissingRate(f"利率表缺 {year} 年的利率", f"the interest-rate table has no rate for {year}")
        return self.percent_by_year[year]


def parse_rates(text: str, source: str = "rates") -> RateTable:
    """A rate table from CSV text with columns ``year,rate_percent`` (others ignored)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not {"year", "rate_percent"} <= set(reader.fieldnames or ()):
        raise BadRates(f"{source}：利率表須有 year,rate_percent 欄",
                       f"{source}: a rate table needs the columns year,rate_percent")  # fmt: skip
    rates: dict[int, Decimal] = {}
    for number, row in enumerate(reader, start=1):
        year, percent = _rate_row(row, f"{source} 第 {number} 列", f"{source} row {number}")
        if year in rates:
            raise BadRates(f"{source} 第 {number} 列：{year} 年重複", f"{source} row {number}: {year} twice")
        rates[year] = percent
    if not rates:
        raise BadRates(f"{source}：利率表沒有資料", f"{source}: the rate table is empty")
    return RateTable(rates)


def _rate_row(row: Mapping[str, str | None], where_zh: str, where_en: str) -> tuple[int, Decimal]:
    year_text = (row.get("year") or "").strip()
    rate_text = (row.get("rate_percent") or "").strip()
    if not (len(year_text) == 4 and year_text.isdigit()):
        raise BadRates(f"{where_zh}：年度「{year_text}」應為四位數西元年",
                       f"{where_en}: year {year_text!r} is not a 4-digit year")  # fmt: skip
    try:
        percent = Decimal(rate_text)
    except InvalidOperation:
        percent = Decimal("NaN")
    if not percent.is_finite() or percent < 0 or percent > 100:
        raise BadRates(f"{where_zh}：利率「{rate_text}」不是 0 至 100 的數字",
                       f"{where_en}: rate {rate_text!r} is not a number from 0 to 100")  # fmt: skip
    return int(year_text), percent


@functools.cache
def bundled_rates() -> RateTable:
    return parse_rates(_bundled(RATES_FILE), RATES_FILE)
