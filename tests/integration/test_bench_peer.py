"""The peer of bench/peer.py (ClickHouse's Kafka engine and materialized views, issue #15) on a
small simulated campaign: it reads the whole topic, its figures are exactly what its naive
rules give for the messages on the topic (every copy counts), and they stay near the
simulator's exact figures, except where the campaign's corrections make the peer's point."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from bench.peer import peer, wait_consumed
from projections.columns import PUBLIC
from streams.settings import Settings
from streams.topics import events_topic
from tests.integration.harness import emit_campaign
from tests.integration.ingest_helpers import event, read_topic


def _naive(messages: list[bytes], auto_close_s: float) -> dict[str, Any]:
    """The peer's rules in Python: no validation, no idempotency (each message counts), the
    distinct ids of every message, shifts paired by earliest check-in and latest check-out."""
    docs = [json.loads(m) for m in messages]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_type.setdefault(doc["type"], []).append(doc["data"])
    calls = by_type.get("tracing.call_recorded", [])
    disinfections = by_type.get("disinfection.completed", [])
    first_in: dict[str, int] = {}
    last_out: dict[str, int] = {}
    for doc in docs:
        if doc["type"] in ("volunteer.checked_in", "volunteer.checked_out"):
            shift, at = (
                doc["data"]["shift_id"],
                int(datetime.fromisoformat(doc["occurred_at"]).timestamp()),
            )
            if doc["type"] == "volunteer.checked_in":
                first_in[shift] = min(first_in.get(shift, at), at)
            else:
                last_out[shift] = max(last_out.get(shift, 0), at)
    now = time.time()
    started = [(at, last_out.get(shift, 0)) for shift, at in first_in.items()]
    return {
        "orgs": len({d["org_id"] for d in docs}),
        "teams": len({d["team_id"] for d in docs}),
        "volunteers": len({d["volunteer_id"] for d in docs}),
        "checkins": len(started),
        "service_hours": round(sum(o - i for i, o in started if o > i) / 3600, 2),
        "open_shifts": sum(1 for i, o in started if not o and now - i < auto_close_s),
        "unclosed_shifts": sum(1 for i, o in started if not o and now - i >= auto_close_s),
        "calls": len(calls),
        "calls_reached": sum(1 for d in calls if d["outcome"] == "reached"),
        "call_minutes": round(sum(d["duration_s"] for d in calls) / 60, 2),
        "sampling_assists": sum(
            d.get("people_assisted", 0) + d.get("count", 0)
            for d in by_type.get("sampling.assisted", [])
        ),
        "disinfected_m2": sum(d["area_m2"] for d in disinfections),
        "floors": sum(d["floors"] for d in disinfections),
        "donations_fen": sum(d["amount_fen"] for d in by_type.get("donation.received", [])),
    }


def test_peer_reads_the_topic_and_counts_every_copy(isolated: Settings, tmp_path: Path) -> None:
    expected = emit_campaign(isolated, tmp_path, seed=5, scale="0.002")
    out = tmp_path / "events.jsonl"  # emit_campaign's simulated file
    topic = events_topic(isolated)
    # What a raw producer may send besides `frontline emit`'s canonical JSON: whitespace after
    # the colons (json.dumps' default), and the pilot app's sampling.assisted v0 (`count`).
    # Ids of the campaign's, so that the distinct counts stay the simulator's.
    ids = json.loads(out.read_bytes().split(b"\n", 1)[0])  # the file has invalid lines
    ids = {k: ids[k] for k in ("org_id", "team_id", "volunteer_id")}
    spaced = event("sampling.assisted", **ids)
    spaced["data"]["people_assisted"] = 7
    pilot = event("sampling.assisted", schema_version=0, **ids)
    pilot["data"] = {"site_id": "site-pilot", "count": 5}
    producer = KafkaProducer(bootstrap_servers=isolated.bootstrap_servers)
    for doc in (spaced, pilot):
        producer.send(topic, key=doc["event_id"].encode(), value=json.dumps(doc).encode())
    producer.flush()
    producer.close()
    messages = [value for _, _, value in read_topic(isolated, topic)]
    assert len(messages) == sum(expected["meta"]["lines_by_family"].values()) + 2

    with peer(isolated, topic) as p:
        assert p.end() == len(messages)
        wait_consumed(p, len(messages), timeout=45)
        got = p.totals()
        assert p.consumed() == len(messages)
        assert p.consumers() == 1

    naive = _naive(messages, isolated.auto_close_hours * 3600)
    assert list(got) == list(PUBLIC)
    for column, value in got.items():
        assert value == pytest.approx(naive[column], abs=0.011), column
    oracle = expected["totals"]
    assert (got["sampling_assists"] or 0) > 0
    for column in PUBLIC:
        peer_value, exact = got[column], oracle[column]
        assert peer_value is not None, column
        if column == "donations_fen":
            # The campaign's mistaken copies (entered twice, then voided) and conflicting
            # duplicates are large donations: the peer counts them, Frontline does not.
            assert peer_value > exact
        else:
            assert peer_value == pytest.approx(exact, rel=0.05, abs=1), column
