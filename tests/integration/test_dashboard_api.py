"""The dashboard's JSON API on the real stack: each answer is what `frontline query --format
json` prints for the same parameters; a poll with the ETag back costs a 304 until a checkpoint
moves; mistakes get a JSON error that says what to fix; a client that stalls is let go as by
HTTP ingest (the same connection guard)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from projections import queries
from streams.ingest.producer import Producer
from streams.settings import Settings
from tests.integration.harness import env_of, frontline, wait_caught_up
from tests.integration.ingest_helpers import event, line
from tests.integration.servers import free_port


def _get(url: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _cli(settings: Settings, *args: str) -> Any:
    done = frontline(settings, "query", *args, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@contextmanager
def _dashboard(
    settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, int, dict[str, str], bytes]]:
    """`frontline dashboard` running; its base URL and its first answer to /api/totals."""
    port = free_port()
    log = tmp_path / "dashboard.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port)],
        env={**os.environ, **env_of(settings)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, body = _get(f"{base}/api/totals")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        yield base, status, headers, body
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_api_answers_as_frontline_query_and_polls_cost_a_304(
    isolated: Settings, live: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    expected, log = live
    with _dashboard(isolated, tmp_path) as (base, status, headers, body):
        assert status == 200
        assert json.loads(body) == _cli(isolated, "totals")
        assert json.loads(body)[0]["sampling_assists"] == expected["totals"]["sampling_assists"]
        assert headers["Cache-Control"] == "no-cache"

        # Nothing new: the ETag sent back gets a 304 and no body. The ETag also changes with
        # the minute (open shifts age): a poll that straddles a minute gets 200, the next 304.
        for _ in range(3):
            _, fresh, _ = _get(f"{base}/api/totals")
            again, again_headers, again_body = _get(f"{base}/api/totals", fresh["ETag"])
            if again == 304:
                break
        assert (again, again_body) == (304, b"")
        assert again_headers["ETag"] == fresh["ETag"]

        org = expected["daily_by_org"][0]["org_id"]
        day = expected["daily_by_org"][0]["day"]
        path = f"{base}/api/daily_by_org?org={org}&from={day}&to={day}"
        status, _, body = _get(path)
        assert status == 200
        rows = json.loads(body)
        assert rows == _cli(isolated, "daily_by_org", "--org", org, "--from", day, "--to", day)
        assert len(rows) == 1

        # A new event moves a checkpoint: a new ETag and the new figure.
        more = event("sampling.assisted")
        more["data"]["people_assisted"] = 9
        with Producer(isolated) as producer:
            producer.send(line(more)).result()
        wait_caught_up(isolated, [], log)
        status, moved, body = _get(f"{base}/api/totals", headers["ETag"])
        assert status == 200
        assert moved["ETag"] != headers["ETag"]
        assert json.loads(body)[0]["sampling_assists"] == (
            expected["totals"]["sampling_assists"] + 9
        )

        # Mistakes: what to fix, as JSON.
        status, _, body = _get(f"{base}/api/nothing")
        assert status == 404
        assert json.loads(body)["error"]["code"] == "unknown_query"
        assert "totals" in json.loads(body)["error"]["message"]
        status, _, body = _get(f"{base}/api/daily_by_org?from=April")
        assert status == 400
        assert json.loads(body)["error"]["code"] == "bad_date"

        status, _, body = _get(f"{base}/openapi.json")
        assert status == 200
        document = json.loads(body)
        names = document["paths"]["/api/{name}"]["get"]["parameters"][0]["schema"]["enum"]
        assert names == queries.names()


def test_a_client_that_sends_no_request_is_let_go(isolated: Settings, tmp_path: Path) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    quick = isolated.model_copy(update={"http_head_timeout": 1.0})
    with _dashboard(quick, tmp_path) as (base, status, _, _):
        assert status == 200
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.settimeout(30)  # far past the head timeout: a held connection fails here
            assert stalled.recv(4096) == b""  # closed by the server, nothing sent
