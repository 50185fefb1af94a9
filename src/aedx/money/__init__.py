"""Money: late fees and interest by debt category, from rules kept as data (``aedx/refdata``).

The core knows nothing of HTTP or the command line; ``aedx interest`` and later the exchange use it.
"""

from aedx.money.calculator import BadAmount, Charge, charge, working_deadline
from aedx.money.rules import (
    BadRates,
    CategoryRule,
    InterestBasis,
    MissingRate,
    RateTable,
    Rounding,
    UnknownCategory,
    bundled_rates,
    category_rule,
    category_rules,
    parse_rates,
)

__all__ = [
    "BadAmount",
    "BadRates",
    "CategoryRule",
    "Charge",
    "InterestBasis",
    "MissingRate",
    "RateTable",
    "Rounding",
    "UnknownCategory",
    "bundled_rates",
    "category_rule",
    "category_rules",
    "charge",
    "parse_rates",
    "working_deadline",
]
