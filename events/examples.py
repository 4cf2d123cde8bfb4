"""One example payload per event type, embedded in the exported JSON Schemas.

The same payloads are the valid fixtures under tests/fixtures/valid (a test keeps them equal).
"""

from __future__ import annotations

from typing import Any, Final

EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "event.voided": {
        "event_id": "3f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f",
        "type": "event.voided",
        "schema_version": 1,
        "occurred_at": "2022-04-02T09:15:00+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-000042",
        "source": "app:web:2.0.1:admin-console",
        "data": {
            "voided_event_id": "886313e1-3b8a-4372-9b90-0c9aee199e5d",
            "reason": "entered twice by mistake",
        },
    },
    "disinfection.completed": {
        "event_id": "a8098c1a-f86e-41d4-a4e6-52f0b1c5f2ab",
        "type": "disinfection.completed",
        "schema_version": 1,
        "occurred_at": "2022-03-16T22:40:00+08:00",
        "org_id": "org-0007",
        "team_id": "team-0007-01",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {"site_id": "site-jiuzhou-07", "area_m2": 5200, "floors": 18},
    },
    "donation.received": {
        "event_id": "e5b2c8a4-1f3d-4b6a-9c2e-7d8f0a1b2c3d",
        "type": "donation.received",
        "schema_version": 1,
        "occurred_at": "2022-04-01T15:00:00+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {"amount_fen": 50000000, "donor_kind": "company"},
    },
    "sampling.assisted": {
        "event_id": "886313e1-3b8a-4372-9b90-0c9aee199e5d",
        "type": "sampling.assisted",
        "schema_version": 1,
        "occurred_at": "2022-03-17T09:30:00+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {"site_id": "site-0101", "people_assisted": 3, "assist_kind": "elderly_help"},
    },
    "tracing.call_recorded": {
        "event_id": "16fd2706-8baf-433b-82eb-8c7fada847da",
        "type": "tracing.call_recorded",
        "schema_version": 1,
        "occurred_at": "2022-03-17T10:07:23+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {
            "contact_ref": "e8f7482006792975e7c5a0a4da102e3c363eb27b2a0e7231ecf2746642ccdac7",
            "started_at": "2022-03-17T10:02:11+08:00",
            "duration_s": 312,
            "outcome": "reached",
        },
    },
    "volunteer.checked_in": {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": "volunteer.checked_in",
        "schema_version": 1,
        "occurred_at": "2022-03-17T07:00:00+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {
            "shift_id": "shift-0451-07",
            "site_id": "site-0101",
            "activity": "sampling_support",
        },
    },
    "volunteer.checked_out": {
        "event_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "type": "volunteer.checked_out",
        "schema_version": 1,
        "occurred_at": "2022-03-17T12:30:00+08:00",
        "org_id": "org-0042",
        "team_id": "team-0042-03",
        "volunteer_id": "vol-012345",
        "source": "app:android:1.4.2:device-77f0",
        "data": {"shift_id": "shift-0451-07", "site_id": "site-0101"},
    },
}

# The pilot field app's sampling.assisted, schema_version 0 (upcast on decode).
EXAMPLE_SAMPLING_V0: Final[dict[str, Any]] = {
    "event_id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "type": "sampling.assisted",
    "schema_version": 0,
    "occurred_at": "2022-03-17T09:30:00+08:00",
    "org_id": "org-0042",
    "team_id": "team-0042-03",
    "volunteer_id": "vol-012345",
    "source": "app:android:1.4.2:device-77f0",
    "data": {"site_id": "site-0101", "count": 5},
}
