"""Exported JSON Schemas agree with the pydantic models on every fixture they can judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from events import EVENT_TYPES, decode
from events.examples import EXAMPLE_SAMPLING_V0, EXAMPLES
from events.schema_export import schema_file_for, schemas
from streams.cli import main
from tests.fixtures import Fixture, all_fixtures, load

# Rules JSON Schema cannot state: relative to the receive time, date comparisons, and what
# happens before there is a JSON document at all.
NOT_EXPRESSIBLE = {"timestamp_in_future", "timestamp_too_old"}
NO_DOCUMENT = {"too_large", "invalid_encoding", "malformed_json"}

SCHEMAS = schemas()


def _accepted_by_schemas(payload: Any) -> bool:
    envelope = Draft202012Validator(SCHEMAS["envelope.schema.json"])
    if not envelope.is_valid(payload):
        return False
    name = schema_file_for(payload["type"], payload["schema_version"])
    return bool(Draft202012Validator(SCHEMAS[name]).is_valid(payload))


def test_schemas_are_valid_draft_2020_12() -> None:
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)
    assert set(SCHEMAS) == {
        "envelope.schema.json",
        "sampling.assisted.v0.schema.json",
        *(f"{t}.v1.schema.json" for t in EVENT_TYPES),
    }


@pytest.mark.parametrize("fixture", load("valid"), ids=lambda f: f.name)
def test_valid_fixtures_pass_the_schemas(fixture: Fixture) -> None:
    decode(fixture.wire)
    assert _accepted_by_schemas(fixture.payload)


@pytest.mark.parametrize(
    "fixture",
    [f for f in all_fixtures() if f.expect not in NO_DOCUMENT | {"ok"}],
    ids=lambda f: f.name,
)
def test_invalid_fixtures_fail_the_schemas_where_expressible(fixture: Fixture) -> None:
    payload = fixture.payload if fixture.payload is not None else json.loads(fixture.wire)
    accepted = isinstance(payload, dict) and _accepted_by_schemas(payload)
    assert accepted is (fixture.expect in NOT_EXPRESSIBLE)


def test_examples_are_the_valid_fixtures() -> None:
    fixtures = {f.name: f.payload for f in load("valid")}
    for event_type, example in EXAMPLES.items():
        assert fixtures[event_type.replace(".", "_")] == example
        assert SCHEMAS[f"{event_type}.v1.schema.json"]["examples"] == [example]
    assert fixtures["sampling_assisted_v0"] == EXAMPLE_SAMPLING_V0


def test_schemas_reject_what_models_reject_on_ids() -> None:
    payload = json.loads(json.dumps(EXAMPLES["sampling.assisted"]))
    for bad in ("vol-13806350000", "", "a b", "x" * 65):
        payload["volunteer_id"] = bad
        assert not _accepted_by_schemas(payload), bad


def test_cli_export_writes_every_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = {p.name: json.loads(p.read_text()) for p in (tmp_path / "out").iterdir()}
    assert written == SCHEMAS
