"""The reference tables agree with one another: every address has exactly one branch."""

from __future__ import annotations

from aedx import refdata


def test_every_district_has_one_branch() -> None:
    territory = refdata.territory()
    branches = {b.code for b in refdata.branches()}
    assert len(branches) == 13 and set(territory.values()) == branches
    for d in refdata.districts():
        assert (d.county, d.name) in territory or (d.county, "") in territory, d
    assert refdata.split_counties() == {"臺北市", "新北市"}
    new_taipei = {d.name for d in refdata.districts() if d.county == "新北市"}
    assert len(new_taipei) == 29
    assert {d for (c, d) in territory if c == "新北市"} == new_taipei  # no default: every district named


def test_spot_checks_from_the_domain_notes() -> None:
    t = refdata.territory()
    assert t[("臺北市", "士林區")] == "sly" and t[("臺北市", "")] == "tpy"
    assert t[("新北市", "新店區")] == "tpy" and t[("新北市", "汐止區")] == "sly"
    assert t[("新北市", "板橋區")] == "pcy" and t[("新北市", "瑞芳區")] == "ily"
    assert t[("基隆市", "")] == "ily" and t[("澎湖縣", "")] == "ksy" and t[("苗栗縣", "")] == "scy"


def test_counties_and_streets_fit_the_districts() -> None:
    counties = {c.name for c in refdata.counties()}
    assert len(counties) == 22 and {d.county for d in refdata.districts()} == counties
    assert all(len(c) == 3 for c in counties)  # the address reader slices three characters
    known = {(d.county, d.name) for d in refdata.districts()}
    streets = refdata.streets()
    assert len(streets) > 10_000
    assert sum((s.county, s.district) in known for s in streets) / len(streets) > 0.99
