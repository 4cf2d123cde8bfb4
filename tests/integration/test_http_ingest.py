"""HTTP ingest on the real broker: every status code, retries, wrong org, a broker that dies."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from events import mask_digit_runs
from streams.cli import main
from streams.dead_letters import read_dead_letter
from streams.ingest.http import MAX_BYTES, create_ingest_app
from streams.ingest.tokens import TokenStore
from streams.settings import Settings
from streams.topic_admin import ensure
from streams.topics import dead_letter_topic, events_topic
from tests.integration.ingest_helpers import event, invalid, read_topic, scrape
from tests.integration.servers import free_port, own_kafka, serving

ORG = "org-0042"  # the org of the fixture events

Reply = tuple[int, dict[str, str], Any]


def call(url: str, body: bytes | None = None, token: str | None = None) -> Reply:
    """POST `body` (or GET without one); returns status, headers, JSON body."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


def stored(settings: Settings) -> int:
    return len(read_topic(settings, events_topic(settings)))


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json")


@pytest.fixture
def server(isolated: Settings, store: TokenStore) -> Iterator[str]:
    ensure(isolated)
    with serving(create_ingest_app(isolated, store)) as url:
        yield url


def test_batch_accepted_after_kafka_acks_and_retry_is_accepted_again(
    isolated: Settings, server: str, store: TokenStore
) -> None:
    token = store.create("device-77f0", ORG)
    events = [
        event(t) for t in ("volunteer.checked_in", "tracing.call_recorded", "donation.received")
    ]
    body = batch(*events, invalid("out_of_range"))

    status, _, reply = call(f"{server}/v1/events", body, token)
    assert status == 202
    assert (reply["accepted"], reply["rejected"]) == (3, 1)
    assert [s["status"] for s in reply["events"]] == ["accepted"] * 3 + ["rejected"]
    assert [s["event_id"] for s in reply["events"][:3]] == [e["event_id"] for e in events]
    assert reply["events"][3]["code"] == "out_of_range"
    assert stored(isolated) == 3  # acknowledged before the 202

    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    assert len(letters) == 1
    assert letters[0]["code"] == "out_of_range"
    assert letters[0]["origin"] == {"via": "http", "device_id": "device-77f0", "index": 3}
    sent = json.dumps(invalid("out_of_range"), ensure_ascii=False, separators=(",", ":"))
    # Bounded and masked: the digits of its timestamps are gone, its SHA-256 names it exactly.
    assert letters[0]["original"] == mask_digit_runs(sent.encode())
    assert letters[0]["original_sha256"] == hashlib.sha256(sent.encode()).hexdigest()
    assert letters[0]["event_id"] == invalid("out_of_range")["event_id"]

    again, _, reply = call(f"{server}/v1/events", body, token)  # the app's retry
    assert again == 202
    assert reply["accepted"] == 3
    assert stored(isolated) == 6  # stored twice; event_id dedups downstream


def test_tokens_missing_unknown_and_revoked_get_401(server: str, store: TokenStore) -> None:
    body = batch(event())
    assert call(f"{server}/v1/events", body)[0] == 401
    status, _, reply = call(f"{server}/v1/events", body, "flt_not-a-token")
    assert status == 401
    assert reply["error"]["code"] == "unauthorized"
    token = store.create("device-1", ORG)
    assert call(f"{server}/v1/events", body, token)[0] == 202
    store.revoke("device-1")
    assert call(f"{server}/v1/events", body, token)[0] == 401


def test_event_for_another_org_refuses_the_whole_request(
    isolated: Settings, server: str, store: TokenStore
) -> None:
    token = store.create("device-2", "org-0007")
    mine = event(org_id="org-0007")
    status, _, reply = call(f"{server}/v1/events", batch(mine, event()), token)
    assert status == 403
    assert reply["error"]["code"] == "wrong_org"
    assert [(e["index"], e["code"]) for e in reply["events"]] == [(1, "wrong_org")]
    assert stored(isolated) == 0  # not even the event of the right org
    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    assert [(d["code"], d["origin"]["device_id"]) for d in letters] == [("wrong_org", "device-2")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"[{", 400, "malformed_json"),
        (b'{"event_id": "x"}', 400, "not_an_array"),
        (b"[]", 400, "empty_batch"),
        (json.dumps([{}] * 1001).encode(), 413, "too_many_events"),
        (b"[" + b" " * MAX_BYTES + b"]", 413, "too_large"),
    ],
)
def test_bad_bodies_get_their_codes_never_500(
    server: str, store: TokenStore, body: bytes, status: int, code: str
) -> None:
    got, _, reply = call(f"{server}/v1/events", body, store.create("device-3", ORG))
    assert (got, reply["error"]["code"]) == (status, code)


def test_unknown_path_is_json_404(server: str) -> None:
    status, _, reply = call(f"{server}/v2/nothing")
    assert (status, reply["error"]["code"]) == (404, "not_found")


def test_rate_limit_per_token_gives_429_with_retry_after(
    isolated: Settings, store: TokenStore
) -> None:
    ensure(isolated)
    slow = isolated.model_copy(update={"ingest_rate_limit": 0.01})  # one request per 100 s
    first, other = store.create("device-4", ORG), store.create("device-5", ORG)
    with serving(create_ingest_app(slow, store)) as url:
        assert call(f"{url}/v1/events", batch(event()), first)[0] == 202
        status, headers, reply = call(f"{url}/v1/events", batch(event()), first)
        assert (status, reply["error"]["code"]) == (429, "rate_limited")
        assert int(headers["Retry-After"]) >= 1
        assert call(f"{url}/v1/events", batch(event()), other)[0] == 202  # per token


def test_unreachable_kafka_gives_503_and_health_says_so(
    isolated: Settings, store: TokenStore
) -> None:
    nowhere = isolated.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    with serving(create_ingest_app(nowhere, store)) as url:
        status, headers, reply = call(f"{url}/v1/events", batch(event()), store.create("d6", ORG))
        assert (status, reply["error"]["code"]) == (503, "kafka_unavailable")
        assert headers["Retry-After"] == "5"
        health, _, body = call(f"{url}/healthz")
        assert (health, body["status"]) == (503, "degraded")


def test_health_and_openapi(server: str) -> None:
    assert call(f"{server}/healthz")[:1] == (200,)
    status, _, doc = call(f"{server}/openapi.json")
    assert status == 200
    post = doc["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"202", "400", "401", "403", "408", "413", "415", "429", "503"}
    assert post["requestBody"]["content"]["application/json"]["schema"]["maxItems"] == 1000
    assert "Event" in doc["components"]["schemas"]


def test_broker_dying_during_a_request_gives_503_and_nothing_accepted(
    isolated: Settings, store: TokenStore, tmp_path: Path
) -> None:
    with own_kafka(isolated, tmp_path) as (kafka, own):
        token = store.create("device-7", ORG)
        with serving(create_ingest_app(own, store)) as url:
            assert call(f"{url}/v1/events", batch(event()), token)[0] == 202
            kafka.freeze()  # stops answering with the request's records unacknowledged
            replies: list[Reply] = []
            request = threading.Thread(
                target=lambda: replies.append(
                    call(f"{url}/v1/events", batch(event(), event()), token)
                )
            )
            request.start()
            request.join(1)  # ordering only: the request is in flight when the broker dies
            kafka.kill()
            request.join(60)
            status, headers, reply = replies[0]
            assert (status, reply["error"]["code"]) == (503, "kafka_unavailable")
            assert "Retry-After" in headers
            assert "accepted" not in reply
            assert "events" not in reply


def test_tokens_cli_keeps_only_hashes(tmp_path: Path) -> None:
    env = {"FRONTLINE_TOKEN_FILE": str(tmp_path / "t.json")}
    runner = CliRunner()
    created = runner.invoke(
        main, ["tokens", "create", "--device", "kiosk-9", "--org", ORG], env=env
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("flt_")
    assert token not in (tmp_path / "t.json").read_text()
    assert TokenStore(tmp_path / "t.json").authenticate(token) is not None
    listed = runner.invoke(main, ["tokens", "list"], env=env)
    assert "kiosk-9  org=org-0042" in listed.output
    assert "active" in listed.output
    assert runner.invoke(main, ["tokens", "revoke", "--device", "kiosk-9"], env=env).exit_code == 0
    assert TokenStore(tmp_path / "t.json").authenticate(token) is None
    assert runner.invoke(main, ["tokens", "revoke", "--device", "kiosk-9"], env=env).exit_code == 1


# -- one bad event never fails the batch (issue #11, finding 2) --------------------------------


def _post(url: str, body: bytes, token: str, **headers: str) -> Reply:
    request = urllib.request.Request(
        f"{url}/v1/events",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_an_800_kb_event_is_rejected_alone_and_the_rest_stored(
    isolated: Settings, server: str, store: TokenStore
) -> None:
    good = [event(), event("donation.received")]
    huge = event(source="app:x:" + "y" * 100)
    huge["data"]["note"] = "z" * 800_000
    status, _, reply = call(
        f"{server}/v1/events", batch(good[0], huge, good[1]), store.create("d8", ORG)
    )
    assert status == 202, reply
    assert [s.get("code") for s in reply["events"]] == [None, "too_large", None]
    assert stored(isolated) == 2
    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    assert [d["code"] for d in letters] == ["too_large"]
    assert letters[0]["truncated"] is True


def test_a_lone_surrogate_is_rejected_alone_not_a_500(
    isolated: Settings, server: str, store: TokenStore
) -> None:
    bad = json.dumps([event(), event(source="app:\\ud800")]).replace("\\\\ud800", "\\ud800")
    status, _, reply = _post(server, bad.encode(), store.create("d9", ORG))
    assert status == 202, reply
    assert [s.get("code") for s in reply["events"]] == [None, "invalid_encoding"]
    assert stored(isolated) == 1
    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    assert [d["code"] for d in letters] == ["invalid_encoding"]


def test_a_gzip_body_that_is_not_gzip_gets_400(server: str, store: TokenStore) -> None:
    status, _, reply = _post(
        server, b"not gzip at all", store.create("d10", ORG), **{"Content-Encoding": "gzip"}
    )
    assert (status, reply["error"]["code"]) == (400, "bad_content_encoding")


def test_a_real_gzip_body_is_accepted(isolated: Settings, server: str, store: TokenStore) -> None:
    body = gzip.compress(batch(event()))
    status, _, reply = _post(server, body, store.create("d11", ORG), **{"Content-Encoding": "gzip"})
    assert (status, reply["accepted"]) == (202, 1)


def test_a_corrupted_token_file_gives_503_and_health_says_so(
    isolated: Settings, tmp_path: Path
) -> None:
    ensure(isolated)
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("d12", ORG)
    with serving(create_ingest_app(isolated, store)) as url:
        assert call(f"{url}/v1/events", batch(event()), token)[0] == 202
        (tmp_path / "tokens.json").write_text('{"devices": [{"token_sha256": ')
        time.sleep(1.1)  # the store rereads a changed file at most once a second
        status, headers, reply = call(f"{url}/v1/events", batch(event()), token)
        assert (status, reply["error"]["code"]) == (503, "token_store_unavailable")
        assert "Retry-After" in headers
        health, _, body = call(f"{url}/healthz")
        assert health == 503
        assert body["status"] == "degraded"
        assert "token" in body["tokens"]


def test_metrics_count_requests_events_and_codes(
    isolated: Settings, server: str, store: TokenStore
) -> None:
    token = store.create("d13", ORG)
    assert call(f"{server}/v1/events", batch(event(), invalid("out_of_range")), token)[0] == 202
    assert call(f"{server}/v1/events", b"[{", token)[0] == 400
    metrics = scrape(f"{server}/metrics")
    assert metrics[("frontline_http_requests_total", (("code", ""), ("status", "202")))] == 1
    assert (
        metrics[("frontline_http_requests_total", (("code", "malformed_json"), ("status", "400")))]
        == 1
    )
    assert metrics[("frontline_http_events_total", (("result", "accepted"),))] == 1
    assert metrics[("frontline_http_rejected_total", (("code", "out_of_range"),))] == 1
    assert metrics[("frontline_http_dead_letters_total", ())] == 1
    assert metrics[("frontline_http_request_seconds_count", ())] == 2
