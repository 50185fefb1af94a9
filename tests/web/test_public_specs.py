"""The kinds' specifications are public: the JSON of ``GET /api/v1/kinds`` and
``/api/v1/kinds/{kind}``, the spec pages and their sample files, all without signing in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from aedx.formats import Format
from aedx.kinds import KINDS
from aedx.validation.engine import Options, validate_file
from tests.web.conftest import Portal


def test_anyone_reads_the_kinds_and_their_specs_as_json(portal: Portal, tmp_path: Path) -> None:
    anyone = portal.browser()
    listing = anyone.get("/api/v1/kinds")
    assert listing.status_code == 200
    assert {k["name"] for k in listing.json()} == set(KINDS)
    for summary in listing.json():
        assert summary["version"] and summary["revised"][:2] == "20"
        spec = anyone.get(summary["url"]).json()
        kind = KINDS[summary["name"]]
        assert [(f["name"], f["width"], f["type"]) for f in spec["fields"]] == [
            (f.name, f.width, f.type.value) for f in kind.fields
        ]
        assert spec["fields"][-1]["end"] == kind.record_width
        assert spec["rules"] and all({"code", "severity", "message_zh"} <= set(r) for r in spec["rules"])
        for sample in spec["samples"]:  # every link downloads, signed out
            got = anyone.get(sample["url"])
            assert got.status_code == 200, sample
        first = spec["samples"][0]
        assert (first["format"], first["encoding"], first["with_errors"]) == ("csv", "utf-8", False)
        path = tmp_path / f"{kind.name}.csv"
        path.write_bytes(anyone.get(first["url"]).content)
        report = validate_file(path, kind, Format.CSV, "utf-8", Options(sender=None))
        assert not report.has_errors  # the sample passes the spec it illustrates
    enums = KINDS["payment"].fields
    payment = anyone.get("/api/v1/kinds/payment").json()
    coded = [f for f in payment["fields"] if f["codes"]]
    assert len(coded) == len([f for f in enums if f.choices])
    missing = anyone.get("/api/v1/kinds/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_spec_pages_are_public(portal: Portal) -> None:
    anyone = portal.browser()
    listing = anyone.get("/portal/kinds")
    assert listing.status_code == 200 and 'href="/portal/kinds/payment"' in listing.text
    page = anyone.get("/portal/kinds/payment")
    assert page.status_code == 200 and "規格版本" in page.text and 'href="/api/v1/kinds/payment"' in page.text
    sample = anyone.get("/portal/kinds/payment/sample", params={"format": "csv"})
    assert sample.status_code == 200 and next(csv.reader(io.StringIO(sample.text)))[0]
    assert anyone.get("/portal/contacts").status_code == 303  # the directory stays signed-in
