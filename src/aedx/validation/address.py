"""Reading the county and district out of a Taiwanese address, vectorised.

Every county and city name has three characters and every district two to five, so the engine
slices a short normalised prefix and looks candidates up in sets: no regular expression runs over
whole addresses.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from aedx import refdata

DIGITS_AND_BLANKS = "0123456789 \u3000"
_PREFIX = 8  # county (3) + the longest district name (5)


def prefix(address: pl.Expr) -> pl.Expr:
    """The start of the address without a leading postcode, with 台 written 臺 as the tables do."""
    head = address.str.strip_chars_start(DIGITS_AND_BLANKS).str.slice(0, _PREFIX)
    return head.str.replace_all("台", "臺", literal=True)


@cache
def county_names() -> list[str]:
    return sorted({c.name for c in refdata.counties()})


@cache
def county_district_pairs() -> list[str]:
    return sorted({d.county + d.name for d in refdata.districts()})


@cache
def _district_lengths() -> list[int]:
    return sorted({len(d.name) for d in refdata.districts()}, reverse=True)


def county(head: pl.Expr) -> pl.Expr:
    """The county or city the prefix starts with, or null."""
    name = head.str.slice(0, 3)
    return pl.when(name.is_in(county_names())).then(name)


def district(head: pl.Expr) -> pl.Expr:
    """The district of that county named right after it (the longest that fits), or null."""
    candidates = [
        pl.when(head.str.slice(0, 3 + n).is_in(county_district_pairs())).then(head.str.slice(3, n))
        for n in _district_lengths()
    ]
    return pl.coalesce(candidates)


@cache
def _zip3_districts() -> frozenset[tuple[str, str, str]]:
    """Every (zip3, county, district) in use: postal areas do not always follow district lines
    (some roads of 石碇區 have 新店區's 231), so the street table counts as well."""
    main = {(d.zip3, d.county, d.name) for d in refdata.districts()}
    return frozenset(main | {(s.zip6[:3], s.county, s.district) for s in refdata.streets()})


@cache
def zip3_district_keys() -> list[str]:
    return sorted(z + c + d for z, c, d in _zip3_districts())


@cache
def zip3_county_keys() -> list[str]:
    return sorted({z + c for z, c, _ in _zip3_districts()})
