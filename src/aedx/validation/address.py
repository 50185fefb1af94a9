"""Reading the county and district out of a Taiwanese address, vectorised."""

from __future__ import annotations

from functools import cache

import polars as pl

from aedx import refdata


def normalise(col: pl.Expr) -> pl.Expr:
    """台 and 臺 are interchangeable in everyday writing; the reference tables use 臺."""
    return col.str.replace_all("台", "臺", literal=True).str.replace_all(" ", "", literal=True)


@cache
def _county_pattern() -> str:
    names = sorted({c.name for c in refdata.counties()}, key=len, reverse=True)
    return r"^[0-9]{0,6}(" + "|".join(names) + ")"


@cache
def _district_pattern() -> str:
    counties = sorted({c.name for c in refdata.counties()}, key=len, reverse=True)
    names = sorted({d.name for d in refdata.districts()}, key=len, reverse=True)
    return r"^[0-9]{0,6}(?:" + "|".join(counties) + ")(" + "|".join(names) + ")"


@cache
def county_district_pairs() -> list[str]:
    return [d.county + "/" + d.name for d in refdata.districts()]


@cache
def _zip3_districts() -> frozenset[tuple[str, str, str]]:
    """Every (zip3, county, district) in use: postal areas do not always follow district lines
    (some roads of 石碇區 have 新店區's 231), so the street table counts as well."""
    main = {(d.zip3, d.county, d.name) for d in refdata.districts()}
    return frozenset(main | {(s.zip6[:3], s.county, s.district) for s in refdata.streets()})


@cache
def zip3_district_keys() -> list[str]:
    return sorted(f"{z}/{c}/{d}" for z, c, d in _zip3_districts())


@cache
def zip3_county_keys() -> list[str]:
    return sorted({f"{z}/{c}" for z, c, _ in _zip3_districts()})


def county(address: pl.Expr) -> pl.Expr:
    return normalise(address).str.extract(_county_pattern(), 1)


def district(address: pl.Expr) -> pl.Expr:
    """The district named right after the county, when it belongs to that county."""
    text = normalise(address)
    found_county = text.str.extract(_county_pattern(), 1)
    found = text.str.extract(_district_pattern(), 1)
    pair = pl.concat_str([found_county, found], separator="/")
    return pl.when(pair.is_in(county_district_pairs())).then(found)
