"""Schemathesis against the app's own ``/openapi.json``, in process (ASGI) on SQLite: generated
(valid) and mutated (invalid) requests to every operation, with a valid access token, never get a
5xx, and the answers conform to the documented status codes, content types and schemas.

The operations are driven from Hypothesis directly (``APIOperation.as_strategy``): schemathesis's
pytest plugin (``from_fixture`` / ``parametrize``) does not run under pytest 9."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.exchange.hub import Hub

SENDER = "A383000000"
EXAMPLES = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 50}  # per operation: ~1 minute in all
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    made = Hub(f"sqlite:///{folder / 'aedx.db'}", folder / "platform", max_upload_bytes=1 << 20)
    yield made
    made.close()


@pytest.fixture(scope="module")
def operations(hub: Hub) -> dict[str, Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", hub.client.app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[operation.label] = operation
    return found


def test_every_operation_is_fuzzed(operations: dict[str, Any]) -> None:
    paths = {label.split(" ", 1)[1] for label in operations}
    assert {"/api/v1/submissions", "/oauth/token", "/api/v1/deliveries/{delivery_id}/ack"} <= paths


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=[m.value for m in EXAMPLES])
def test_no_server_error_and_answers_as_documented(
    hub: Hub, operations: dict[str, Any], mode: GenerationMode
) -> None:
    headers = {"Authorization": f"Bearer {hub.token(SENDER)}"}
    for label, operation in sorted(operations.items()):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:  # nothing to mutate: no parameters or body, or any text fits the path
            assert mode is GenerationMode.NEGATIVE and unbreakable(operation.path_parameters), label
            continue
        except Exception as e:
            raise AssertionError(f"{label}: {e}") from e


def unbreakable(parameters: Any) -> bool:
    """Path parameters with no wrong value a URL can carry: an enum (its wrong values are refused
    by the route as unknown) or text without a bound (every value is a string)."""
    bounds = {"pattern", "minLength", "maxLength", "format"}
    schemas = [p.definition.get("schema", {}) for p in parameters]
    return all("enum" in s or (s.get("type") == "string" and not bounds & s.keys()) for s in schemas)


def test_found_by_fuzzing_integers_beyond_64_bits_are_refused(hub: Hub) -> None:
    """Once a 500: an event id past the database's BIGINT overflowed the driver."""
    for params in ({"after": 2**63}, {"after": -1}):
        response = hub.get(SENDER, "/api/v1/audit", params=params)
        assert response.status_code == 422, response.text
    assert hub.get(SENDER, "/api/v1/audit", params={"after": 2**63 - 1}).json() == []
