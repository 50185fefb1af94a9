"""Late fee and interest by category: the worked examples of the domain notes, every rule's days
and cap, holidays, years at their own rate, and properties that hold for any case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aedx.money import BadAmount, RateTable, category_rule, category_rules, charge, parse_rates
from aedx.money.calculator import whole_dollars
from aedx.workdays import calendar

D = dt.date
CAL = calendar()
RATES = parse_rates("year,rate_percent\n2024,1.6\n2025,1.725\n")
WIDE_RATES = RateTable({year: Decimal("1.725") for year in range(2018, 2036)})
MONDAY = D(2025, 6, 2)  # a working day: no moving


def owed(category: str, amount: int, deadline: dt.date, paid: dt.date, rates: RateTable = RATES):
    return charge(category_rule(category), amount, deadline, paid, rates=rates, calendar=CAL)


def after(days: int) -> dt.date:
    return MONDAY + dt.timedelta(days=days)


# The worked examples of DOMAIN.md, word for word.
def test_tax_100000_due_2025_06_02_paid_2025_07_15() -> None:
    c = owed("tax", 100_000, D(2025, 6, 2), D(2025, 7, 15))
    assert (c.overdue_days, c.late_fee_percent, c.late_fee) == (43, 10, 10_000)
    assert (c.interest_days, c.interest) == (13, 61)  # 07-03 … 07-15 × 1.725 % / 365 = 61.4


@pytest.mark.parametrize(
    ("category", "amount", "days_past_grace", "late_fee"),
    [
        ("nhi_employer", 10_000, 20, 200),
        ("nhi_individual", 2_996, 48, 144),  # 143.808 → 144
    ],
)
def test_insurance_examples(category: str, amount: int, days_past_grace: int, late_fee: int) -> None:
    # Days past grace are the days charged: from the day after the grace period to the day before
    # payment, so payment comes on overdue day 15 + days + 1.
    c = owed(category, amount, MONDAY, after(15 + days_past_grace + 1))
    assert (c.late_fee_days, c.late_fee, c.interest) == (days_past_grace, late_fee, 0)


# Every rule, day by day: overdue days (payment − deadline) → late-fee percent.
@pytest.mark.parametrize(
    ("category", "overdue", "percent"),
    [
        ("tax", -5, "0"), ("tax", 0, "0"), ("tax", 1, "0"), ("tax", 3, "0"), ("tax", 4, "1"),
        ("tax", 6, "1"), ("tax", 7, "2"), ("tax", 30, "9"), ("tax", 31, "10"), ("tax", 43, "10"),
        ("tax", 1_000, "10"),
        ("nhi_employer", 15, "0"), ("nhi_employer", 16, "0"), ("nhi_employer", 17, "0.1"),
        ("nhi_employer", 36, "2"), ("nhi_employer", 165, "14.9"), ("nhi_employer", 166, "15"),
        ("nhi_employer", 900, "15"),
        ("nhi_individual", 16, "0"), ("nhi_individual", 17, "0.1"), ("nhi_individual", 65, "4.9"),
        ("nhi_individual", 66, "5"), ("nhi_individual", 400, "5"),
        ("labour", 16, "0"), ("labour", 17, "0.1"), ("labour", 215, "19.9"), ("labour", 216, "20"),
        ("labour", 900, "20"),
        ("occupational", 16, "0"), ("occupational", 17, "0.2"), ("occupational", 115, "19.8"),
        ("occupational", 116, "20"), ("occupational", 900, "20"),
        ("fine", 0, "0"), ("fine", 1, "0"), ("fine", 900, "0"),
        ("fee", 1, "0"), ("fee", 900, "0"),
    ],
)  # fmt: skip
def test_late_fee_percent_by_overdue_days(category: str, overdue: int, percent: str) -> None:
    c = owed(category, 100_000, MONDAY, after(overdue), WIDE_RATES)
    assert c.late_fee_percent == Decimal(percent)
    assert c.late_fee == int(100_000 * Decimal(percent) / 100)
    assert c.overdue_days == max(0, overdue)


@pytest.mark.parametrize(
    ("overdue", "interest_days", "interest"),
    [(-1, 0, 0), (0, 0, 0), (30, 0, 0), (31, 1, 4), (43, 13, 61), (395, 365, 1725)],
)
def test_tax_interest_runs_from_day_31_to_the_payment_day(
    overdue: int, interest_days: int, interest: int
) -> None:
    c = owed("tax", 100_000, MONDAY, after(overdue), WIDE_RATES)
    assert (c.interest_days, c.interest) == (interest_days, interest)


@pytest.mark.parametrize(
    "category", ["nhi_employer", "nhi_individual", "labour", "occupational", "fine", "fee"]
)
def test_only_tax_bears_interest(category: str) -> None:
    c = owed(category, 100_000, MONDAY, after(400), WIDE_RATES)
    assert (c.interest_days, c.interest) == (0, 0)


@pytest.mark.parametrize("category", ["fine", "fee"])
def test_no_late_fee_counts_no_late_fee_days(category: str) -> None:
    c = owed(category, 3_000, MONDAY, after(211))
    assert (c.overdue_days, c.late_fee_days, c.late_fee, c.interest) == (211, 0, 0, 0)


def test_each_year_at_its_own_rate_summed_before_rounding() -> None:
    # Interest 2024-12-30 … 2025-01-31: 2 days at 1.6 %, 31 days at 1.725 %:
    # 100000 × (0.016 × 2 + 0.01725 × 31) / 365 = 155.27 (rounding each year apart would give 154).
    c = owed("tax", 100_000, D(2024, 11, 29), D(2025, 1, 31))
    assert (c.overdue_days, c.interest_days, c.interest) == (63, 33, 155)


def test_a_year_without_a_rate_is_an_error_not_a_zero() -> None:
    from aedx.money import MissingRate

    with pytest.raises(MissingRate, match="2023"):
        owed("tax", 100_000, D(2023, 6, 1), D(2025, 1, 1))
    assert owed("tax", 100_000, D(2023, 6, 1), D(2023, 7, 1)).interest == 0  # within the 30 days


@pytest.mark.parametrize(
    ("category", "amount", "overdue", "late_fee"),
    [
        ("tax", 99, 4, 0),  # 0.99 truncated
        ("tax", 12_345, 31, 1_234),  # 1234.5 truncated
        ("nhi_employer", 500, 17, 1),  # 0.5 half up
        ("nhi_employer", 499, 17, 0),  # 0.499
        ("labour", 12_345, 216, 2_469),  # 20 % exactly
        ("occupational", 1_001, 18, 4),  # 0.4 % of 1001 = 4.004
        ("nhi_individual", 2_999, 66, 150),  # cap 5 %: 149.95 → 150
    ],
)
def test_rounding_per_category(category: str, amount: int, overdue: int, late_fee: int) -> None:
    assert owed(category, amount, MONDAY, after(overdue)).late_fee == late_fee


@pytest.mark.parametrize(
    ("deadline", "due"),
    [
        (D(2025, 6, 7), D(2025, 6, 9)),  # a Saturday
        (D(2025, 6, 8), D(2025, 6, 9)),  # a Sunday
        (D(2025, 10, 10), D(2025, 10, 13)),  # 國慶日, a Friday
        (D(2026, 2, 16), D(2026, 2, 23)),  # the 2026 New Year break
        (D(2025, 2, 8), D(2025, 2, 8)),  # a make-up working Saturday stays
        (D(2025, 6, 2), D(2025, 6, 2)),
    ],
)
def test_a_deadline_on_a_day_off_moves_to_the_next_working_day(deadline: dt.date, due: dt.date) -> None:
    c = owed("tax", 100_000, deadline, due + dt.timedelta(days=4))
    assert (c.due, c.overdue_days, c.late_fee) == (due, 4, 1_000)
    assert owed("tax", 100_000, deadline, due).late_fee == 0


def test_paying_on_or_before_the_deadline_owes_nothing() -> None:
    for paid in (D(2025, 1, 1), D(2025, 6, 9)):
        c = owed("tax", 100_000, D(2025, 6, 7), paid)
        assert (c.overdue_days, c.late_fee_days, c.interest_days, c.late_fee, c.interest) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("amount", [-1, True, 1.5, Decimal("10")])
def test_an_amount_must_be_whole_nt_dollars(amount: object) -> None:
    with pytest.raises(BadAmount):
        owed("tax", amount, MONDAY, after(40))  # type: ignore[arg-type]


def test_the_json_shape() -> None:
    assert owed("nhi_individual", 2_996, MONDAY, after(64)).to_dict() == {
        "category": "nhi_individual", "amount": 2996, "deadline": "2025-06-02", "due": "2025-06-02",
        "paid": "2025-08-05", "overdue_days": 64, "late_fee_days": 48, "late_fee_percent": "4.8",
        "late_fee": 144, "interest_days": 0, "interest": 0,
    }  # fmt: skip


# Properties: for any category, amount, deadline and payment date.
categories = st.sampled_from(sorted(category_rules()))
amounts = st.integers(min_value=0, max_value=10**10)
deadlines = st.dates(min_value=D(2019, 1, 1), max_value=D(2027, 12, 31))
delays = st.integers(min_value=-60, max_value=2_000)


@settings(max_examples=300, deadline=None)
@given(categories, amounts, deadlines, delays)
def test_never_negative_and_never_above_the_cap(
    category: str, amount: int, deadline: dt.date, delay: int
) -> None:
    rule = category_rule(category)
    c = owed(category, amount, deadline, deadline + dt.timedelta(days=delay), WIDE_RATES)
    assert c.late_fee >= 0 and c.interest >= 0 and c.overdue_days >= 0
    assert c.late_fee_percent <= rule.cap_percent
    assert c.late_fee <= whole_dollars(amount * Fraction(rule.cap_percent) / 100, rule.rounding)
    if delay <= 0:
        assert (c.late_fee, c.interest, c.late_fee_days, c.interest_days) == (0, 0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(categories, amounts, deadlines, delays, st.integers(min_value=0, max_value=800))
def test_monotone_in_the_payment_date(
    category: str, amount: int, deadline: dt.date, delay: int, later: int
) -> None:
    paid = deadline + dt.timedelta(days=delay)
    first = owed(category, amount, deadline, paid, WIDE_RATES)
    then = owed(category, amount, deadline, paid + dt.timedelta(days=later), WIDE_RATES)
    assert then.late_fee >= first.late_fee and then.interest >= first.interest
    assert then.overdue_days >= first.overdue_days and then.interest_days >= first.interest_days
