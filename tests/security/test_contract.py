"""The OpenAPI document says what the API takes: enums derived from the registry of kinds and the
formats, the obligor ID's pattern, the configured upload limit, strict date-times, no
``Content-Length`` parameter; one status per error code; the API's own masked ID, given back as a
filter, gets a clear answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aedx.formats import Format
from aedx.kinds import KINDS
from aedx.validation.export import FORMATS
from tests.exchange.hub import Hub

AGENCY = "A383000000"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder: Path = tmp_path_factory.mktemp("contract")
    made = Hub(f"sqlite:///{folder / 'aedx.db'}", folder / "platform", max_upload_bytes=3 << 20)
    yield made
    made.close()


@pytest.fixture(scope="module")
def document(hub: Hub) -> dict[str, Any]:
    return dict(hub.client.get("/openapi.json").json())


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in document["paths"][path][method].get("parameters", []) if p["name"] == name]
    assert found, (path, method, name)
    return dict(found[0]["schema"])


def test_choices_are_enums_from_the_registry(document: dict[str, Any]) -> None:
    upload = "/api/v1/submissions"
    assert set(parameter(document, upload, "post", "kind")["enum"]) == {
        n for n, k in KINDS.items() if k.routing is not None
    }
    assert parameter(document, upload, "post", "format")["enum"] == [f.value for f in Format]
    assert {"utf-8", "cp950", "big5"} <= set(parameter(document, upload, "post", "encoding")["enum"])
    report = "/api/v1/submissions/{submission_id}/report/{fmt}"
    assert parameter(document, report, "get", "fmt")["enum"] == list(FORMATS)


def test_patterns_limits_and_date_times(document: dict[str, Any]) -> None:
    obligor = parameter(document, "/api/v1/cases", "get", "obligor_id")
    assert obligor["anyOf"][0]["pattern"] == "^[A-Za-z0-9]{8,10}$"
    since = parameter(document, "/api/v1/audit", "get", "since")
    assert since["format"] == "date-time" and since["anyOf"][0]["pattern"].startswith("^")
    upload = document["paths"]["/api/v1/submissions"]["post"]
    assert upload["requestBody"]["x-max-bytes"] == 3 << 20 and f"{3 << 20:,} bytes" in upload["description"]
    form = document["paths"]["/oauth/token"]["post"]["requestBody"]["content"]
    assert next(iter(form.values()))["schema"]["properties"]["client_assertion"]["minLength"] == 1


def test_content_length_is_not_a_parameter(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            assert "content-length" not in names, (method, path)


def test_one_status_per_error_code(hub: Hub) -> None:
    auth = {"Authorization": f"Bearer {hub.token(AGENCY)}"}
    schema = hub.client.get("/api/v1/audit", params={"limit": 0}, headers=auth)
    assert (schema.status_code, schema.json()["error"]["code"]) == (422, "request.schema")
    domain = hub.client.post("/api/v1/submissions", params={"kind": "nonsense"}, content=b"x", headers=auth)
    assert (domain.status_code, domain.json()["error"]["code"]) == (400, "request.invalid")


def test_date_times_are_strict(hub: Hub) -> None:
    auth = {"Authorization": f"Bearer {hub.token(AGENCY)}"}
    for loose in ("0", "2026-12-05", "2026-12-05 08:00"):
        answer = hub.client.get("/api/v1/audit", params={"since": loose}, headers=auth)
        assert answer.status_code == 422, loose
    impossible = hub.client.get("/api/v1/audit", params={"since": "2026-02-30T00:00:00Z"}, headers=auth)
    assert impossible.status_code == 400
    fine = hub.client.get("/api/v1/audit", params={"since": "2026-12-05T08:00:00+08:00"}, headers=auth)
    assert fine.status_code == 200


def test_a_masked_obligor_id_as_a_filter_is_explained(hub: Hub) -> None:
    auth = {"Authorization": f"Bearer {hub.token(AGENCY)}"}
    answer = hub.client.get("/api/v1/cases", params={"obligor_id": "A12****789"}, headers=auth)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "case.masked_obligor_id" and "masked" in error["message_en"]
