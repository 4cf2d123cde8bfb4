"""The dashboard's JSON API on the real stack: each answer is what `frontline query --format
json` prints for the same parameters; a poll with the ETag back costs a 304 until a checkpoint
moves; mistakes get a JSON error that says what to fix; a client that stalls is let go as by
HTTP ingest (the same connection guard)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from projections import queries
from projections.columns import PUBLIC
from projections.store import StateStore
from streams.dashboard.api import iso_ms
from streams.ingest.producer import Producer
from streams.settings import Settings
from tests.integration.dashboard_server import dashboard, get
from tests.integration.harness import frontline, wait_caught_up
from tests.integration.ingest_helpers import event, line


def _cli(settings: Settings, *args: str) -> Any:
    done = frontline(settings, "query", *args, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


# The public columns that add up over days and orgs (distinct counts do not).
ADDING_UP = tuple(c for c in PUBLIC if c not in ("orgs", "teams", "volunteers"))


def _sums(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        into = out.setdefault(row[key], dict.fromkeys(ADDING_UP, 0))
        for column in ADDING_UP:
            into[column] += row[column]
    return out


def test_the_api_answers_as_frontline_query_and_polls_cost_a_304(
    isolated: Settings, live: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    expected, log = live
    with dashboard(isolated, tmp_path) as (base, status, headers, body):
        assert status == 200
        assert json.loads(body) == _cli(isolated, "totals")
        assert json.loads(body)[0]["sampling_assists"] == expected["totals"]["sampling_assists"]
        assert headers["Cache-Control"] == "no-cache"
        # Current as of the newest checkpoint the worker wrote (it is idle: caught up).
        _, as_of_ms = StateStore(isolated.clickhouse).checkpoint_marks()
        assert headers["X-Frontline-As-Of"] == iso_ms(as_of_ms)

        # Nothing new: the ETag sent back gets a 304 and no body. The ETag also changes with
        # the minute (open shifts age): a poll that straddles a minute gets 200, the next 304.
        for _ in range(3):
            _, fresh, _ = get(f"{base}/api/totals")
            again, again_headers, again_body = get(f"{base}/api/totals", fresh["ETag"])
            if again == 304:
                break
        assert (again, again_body) == (304, b"")
        assert again_headers["ETag"] == fresh["ETag"]

        org = expected["daily_by_org"][0]["org_id"]
        day = expected["daily_by_org"][0]["day"]
        path = f"{base}/api/daily_by_org?org={org}&from={day}&to={day}"
        status, _, body = get(path)
        assert status == 200
        rows = json.loads(body)
        assert rows == _cli(isolated, "daily_by_org", "--org", org, "--from", day, "--to", day)
        assert len(rows) == 1

        # by_team and by_site: per team (site), the dates' sums of daily_by_team (_site), the
        # 100 with the most events.
        for kind in ("team", "site"):
            want: dict[str, int] = {}
            for row in _cli(isolated, f"daily_by_{kind}", "--org", org):
                want[row[f"{kind}_id"]] = want.get(row[f"{kind}_id"], 0) + row["events"]
            status, _, body = get(f"{base}/api/by_{kind}?org={org}")
            assert status == 200
            rows = json.loads(body)
            assert rows == _cli(isolated, f"by_{kind}", "--org", org)
            assert len(rows) == min(100, len(want)) > 0
            assert all(r["org_id"] == org and r["events"] == want[r[f"{kind}_id"]] for r in rows)
            left_out = set(want) - {r[f"{kind}_id"] for r in rows}
            assert all(want[k] <= rows[-1]["events"] for k in left_out)

        # daily and orgs: the columns of daily_by_org that add up, summed per day (per org), as
        # the simulator's oracle has them; call_outcomes adds up to the calls in totals.
        for name, key in (("daily", "day"), ("orgs", "org_id")):
            status, _, body = get(f"{base}/api/{name}")
            assert status == 200
            got = {row[key]: row for row in json.loads(body)}
            sums = _sums(expected["daily_by_org"], key)
            assert got.keys() == sums.keys()
            for k, row in got.items():
                for column, value in sums[k].items():
                    assert row[column] == pytest.approx(value, abs=0.006), (name, k, column)
        status, _, body = get(f"{base}/api/call_outcomes")
        outcomes = {row["outcome"]: row["calls"] for row in json.loads(body)}
        assert sum(outcomes.values()) == expected["totals"]["calls"]
        assert outcomes["reached"] == expected["totals"]["calls_reached"]

        # A new event moves a checkpoint: a new ETag and the new figure.
        more = event("sampling.assisted")
        more["data"]["people_assisted"] = 9
        with Producer(isolated) as producer:
            producer.send(line(more)).result()
        wait_caught_up(isolated, [], log)
        # The first poll after the checkpoint moved may get the last answer while the new one
        # is computed (streams/dashboard/answers.py); the new figure follows within seconds.
        want = expected["totals"]["sampling_assists"] + 9
        deadline = time.monotonic() + 30
        while True:
            status, moved, body = get(f"{base}/api/totals", headers["ETag"])
            if status == 200 and json.loads(body)[0]["sampling_assists"] == want:
                break
            assert time.monotonic() < deadline, (status, body)
            time.sleep(0.2)
        assert moved["ETag"] != headers["ETag"]
        assert moved["X-Frontline-As-Of"] > headers["X-Frontline-As-Of"]

        # Mistakes: what to fix, as JSON.
        status, _, body = get(f"{base}/api/nothing")
        assert status == 404
        assert json.loads(body)["error"]["code"] == "unknown_query"
        assert "totals" in json.loads(body)["error"]["message"]
        status, _, body = get(f"{base}/api/daily_by_org?from=April")
        assert status == 400
        assert json.loads(body)["error"]["code"] == "bad_date"

        status, _, body = get(f"{base}/openapi.json")
        assert status == 200
        document = json.loads(body)
        names = document["paths"]["/api/{name}"]["get"]["parameters"][0]["schema"]["enum"]
        assert names == queries.names()


def test_a_client_that_sends_no_request_is_let_go(isolated: Settings, tmp_path: Path) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    quick = isolated.model_copy(update={"http_head_timeout": 1.0})
    with dashboard(quick, tmp_path) as (base, status, _, _):
        assert status == 200
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.settimeout(30)  # far past the head timeout: a held connection fails here
            assert stalled.recv(4096) == b""  # closed by the server, nothing sent
