"""The money rules as bundled data: one row per debt category, and the rate table by year."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aedx.money import (
    BadRates,
    InterestBasis,
    MissingRate,
    Rounding,
    UnknownCategory,
    bundled_rates,
    category_rule,
    category_rules,
    parse_rates,
)

NONE, PRINCIPAL = InterestBasis.NONE, InterestBasis.PRINCIPAL
TRUNCATE, HALF_UP = Rounding.TRUNCATE, Rounding.HALF_UP


@pytest.mark.parametrize(
    ("category", "grace", "step_days", "step_percent", "cap", "basis", "after", "rounding"),
    [
        ("tax", 0, 3, "1", "10", PRINCIPAL, 30, TRUNCATE),
        ("nhi_employer", 15, 1, "0.1", "15", NONE, 0, HALF_UP),
        ("nhi_individual", 15, 1, "0.1", "5", NONE, 0, HALF_UP),
        ("labour", 15, 1, "0.1", "20", NONE, 0, HALF_UP),
        ("occupational", 15, 1, "0.2", "20", NONE, 0, HALF_UP),
        ("fine", 0, 1, "0", "0", NONE, 0, TRUNCATE),
        ("fee", 0, 1, "0", "0", NONE, 0, TRUNCATE),
    ],
)
def test_every_category_row_says_what_the_domain_notes_say(
    category: str, grace: int, step_days: int, step_percent: str, cap: str,
    basis: InterestBasis, after: int, rounding: Rounding,
) -> None:  # fmt: skip
    rule = category_rule(category)
    assert (rule.grace_days, rule.step_days, rule.step_percent, rule.cap_percent) == (
        grace, step_days, Decimal(step_percent), Decimal(cap),
    )  # fmt: skip
    assert (rule.interest_basis, rule.interest_after_days, rule.rounding) == (basis, after, rounding)
    assert rule.label_zh and rule.law


def test_the_seven_categories_and_no_other() -> None:
    assert list(category_rules()) == [
        "tax", "nhi_employer", "nhi_individual", "labour", "occupational", "fine", "fee",
    ]  # fmt: skip
    with pytest.raises(UnknownCategory, match="nhi"):
        category_rule("nhi")


def test_the_bundled_rates_by_year() -> None:
    rates = bundled_rates()
    assert rates.percent(2025) == Decimal("1.725")
    assert rates.percent(2024) == Decimal("1.6")
    with pytest.raises(MissingRate, match="2019"):
        rates.percent(2019)


def test_a_rate_table_from_csv_with_a_bom_and_extra_columns() -> None:
    rates = parse_rates("\ufeffyear,rate_percent,note\n2023,1.59,x\n2024,1.6,\n")
    assert dict(rates.percent_by_year) == {2023: Decimal("1.59"), 2024: Decimal("1.6")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year,rate\n2025,1.7\n", "year,rate_percent"),
        ("year,rate_percent\n", "empty"),
        ("year,rate_percent\n2025,abc\n", "row 1: rate 'abc'"),
        ("year,rate_percent\n2025,\n", "row 1: rate ''"),
        ("year,rate_percent\n2025,NaN\n", "row 1: rate 'NaN'"),
        ("year,rate_percent\n2025,-1\n", "row 1: rate '-1'"),
        ("year,rate_percent\n2024,1.6\n,1.7\n", "row 2: year ''"),
        ("year,rate_percent\n25,1.7\n", "row 1: year '25'"),
        ("year,rate_percent\n2025.0,1.7\n", "row 1: year '2025.0'"),
        ("year,rate_percent\n2025,1.7\n2025,1.8\n", "row 2: 2025 twice"),
    ],
)
def test_a_bad_rate_table_is_refused_with_its_row(text: str, message: str) -> None:
    with pytest.raises(BadRates) as caught:
        parse_rates(text, "rates.csv")
    assert message in caught.value.message_en and caught.value.message_zh
