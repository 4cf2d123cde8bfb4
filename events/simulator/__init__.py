"""Campaign simulator: a realistic, deterministic event stream plus the exact counts it implies.

`simulate(...)` writes the JSON Lines file and the expected.json document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from events.simulator import scenario
from events.simulator.campaign import Campaign, Progress

SCENARIOS = (scenario.NAME,)


def simulate(
    *,
    scenario_name: str,
    scale: float,
    seed: int,
    out: Path,
    expect: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the campaign to `out` (JSON Lines) and, if given, expected.json to `expect`."""
    if scenario_name not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario_name!r}; known: {', '.join(SCENARIOS)}")
    campaign = Campaign(scenario.plan(scale), seed)
    with out.open("wb", buffering=1 << 20) as sink:

        def write(chunk: bytes) -> None:
            sink.write(chunk)

        document = campaign.run(write, progress)
    if expect is not None:
        expect.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return document


__all__ = ["SCENARIOS", "simulate"]
