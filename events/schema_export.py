"""JSON Schemas (draft 2020-12) for field apps: the envelope, each type at v1, and the pilot v0.

Generated from the pydantic models, then tightened where JSON Schema `format` is only advisory
(most validators ignore it): date-times and UUIDs also get a `pattern`. Rules that depend on the
receive time (`timestamp_in_future`) or compare dates (`timestamp_too_old`) cannot be expressed
and are enforced by the service only (docs/contract.md lists which).
"""

from __future__ import annotations

import copy
from typing import Any, Final

from events.envelope import Envelope
from events.examples import EXAMPLE_SAMPLING_V0, EXAMPLES
from events.fields import ID_PATTERN, MAX_PEOPLE_ASSISTED
from events.types import CURRENT_VERSION, EVENT_TYPES

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# RFC 3339 date-time with a mandatory offset ("Z" or +hh:mm).
DATE_TIME_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
UUID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)

Schema = dict[str, Any]


def _tighten(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _tighten(value) for key, value in node.items()}
        if node.get("format") == "date-time":
            node["pattern"] = DATE_TIME_PATTERN
        elif node.get("format") == "uuid":
            node["pattern"] = UUID_PATTERN
        node.pop("title", None)
        return node
    if isinstance(node, list):
        return [_tighten(item) for item in node]
    return node


def _header(schema: Schema, title: str, description: str) -> Schema:
    return {"$schema": DIALECT, "title": title, "description": description} | schema


def event_schema(event_type: str) -> Schema:
    """The v1 schema of one event type, with its example."""
    model = EVENT_TYPES[event_type]
    schema = _tighten(model.model_json_schema())
    schema["properties"]["schema_version"] = {"const": CURRENT_VERSION}
    schema.pop("description", None)
    schema["examples"] = [EXAMPLES[event_type]]
    return _header(schema, f"{event_type} v{CURRENT_VERSION}", (model.__doc__ or "").strip())


def envelope_schema() -> Schema:
    """What every event has in common; `data` is checked by the schema of its type."""
    schema = _tighten(Envelope.model_json_schema())
    props = schema["properties"]
    props["type"] = {"enum": list(EVENT_TYPES)}
    props["schema_version"] = {"type": "integer", "minimum": 0, "maximum": CURRENT_VERSION}
    props["data"] = {"type": "object"}
    schema["required"] = [*schema["required"], "data"]
    schema.pop("description", None)
    schema["examples"] = [EXAMPLES["volunteer.checked_in"]]
    return _header(schema, "Frontline event envelope", "Fields common to every event.")


def sampling_v0_schema() -> Schema:
    """The pilot app's sampling.assisted (schema_version 0), still accepted and upcast."""
    schema = copy.deepcopy(event_schema("sampling.assisted"))
    schema["title"] = "sampling.assisted v0 (pilot app; upcast to v1 on receipt)"
    schema["properties"]["schema_version"] = {"const": 0}
    schema["properties"]["data"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["site_id", "count"],
        "properties": {
            "site_id": {"type": "string", "maxLength": 64, "pattern": ID_PATTERN},
            "count": {"type": "integer", "minimum": 1, "maximum": MAX_PEOPLE_ASSISTED},
        },
    }
    schema["examples"] = [EXAMPLE_SAMPLING_V0]
    return schema


def schemas() -> dict[str, Schema]:
    """File name -> schema, for `frontline schema export DIR`."""
    out = {"envelope.schema.json": envelope_schema()}
    for event_type in EVENT_TYPES:
        out[f"{event_type}.v{CURRENT_VERSION}.schema.json"] = event_schema(event_type)
    out["sampling.assisted.v0.schema.json"] = sampling_v0_schema()
    return out


def schema_file_for(event_type: str, version: int) -> str:
    """Which exported file validates an event of this type and version."""
    return f"{event_type}.v{version}.schema.json"
