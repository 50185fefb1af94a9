"""Reference tables kept as data, not code: counties, districts, branch territory, streets.

Sources, versions and licences are in ``SOURCES.md`` beside these files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    abbreviation: str


@dataclass(frozen=True)
class County:
    code: str
    name: str
    id_letter: str


@dataclass(frozen=True)
class District:
    county: str
    name: str
    zip3: str


@dataclass(frozen=True)
class Street:
    county: str
    district: str
    road: str
    zip6: str


@cache
def branches() -> tuple[Branch, ...]:
    return tuple(Branch(**r) for r in _rows("branches.csv"))


@cache
def counties() -> tuple[County, ...]:
    return tuple(County(**r) for r in _rows("counties.csv"))


@cache
def districts() -> tuple[District, ...]:
    return tuple(
        District(county=r["county"], name=r["district"], zip3=r["zip3"]) for r in _rows("districts.csv")
    )


@cache
def streets() -> tuple[Street, ...]:
    return tuple(Street(**r) for r in _rows("streets.csv"))


@cache
def territory() -> dict[tuple[str, str], str]:
    """(county, district) → branch code; district "" stands for the rest of the county."""
    return {(r["county"], r["district"]): r["branch"] for r in _rows("territory.csv")}


@cache
def split_counties() -> frozenset[str]:
    """Counties whose territory is shared by several branches: routing needs the district."""
    return frozenset(county for county, district in territory() if district)
