"""HTTP ingest against slow, greedy or sloppy clients (issue #11, findings 6 and deliverable 7):
request heads and bodies have deadlines, connections are bounded per client and in all, a body
that is not JSON by its Content-Type gets 415, an event with a key twice is refused, and a
token's dead letters are bounded."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from streams.http_guard import ConnectionGuard
from streams.ingest.http import create_ingest_app
from streams.ingest.tokens import TokenStore
from streams.settings import Settings
from streams.topic_admin import ensure
from tests.integration.ingest_helpers import event, invalid, read_topic
from tests.integration.servers import serving
from tests.integration.test_http_ingest import ORG, batch, call, stored

GUARD = ConnectionGuard(max_connections=12, max_per_client=6, head_timeout_s=1.0, keepalive_s=2.0)


@pytest.fixture
def guarded(isolated: Settings, tmp_path: object) -> Iterator[tuple[str, TokenStore]]:
    ensure(isolated)
    from pathlib import Path

    store = TokenStore(Path(str(tmp_path)) / "tokens.json")
    guard = ConnectionGuard(**{k: getattr(GUARD, k) for k in (
        "max_connections", "max_per_client", "head_timeout_s", "keepalive_s")})  # fmt: skip
    settings = isolated.model_copy(
        update={"ingest_dead_letter_budget": 5, "http_body_timeout": 1.0}
    )
    with serving(create_ingest_app(settings, store), guard=guard) as url:
        yield url, store


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes `sock` within `seconds`, and what it sent before."""
    sock.settimeout(seconds)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
        return True, got
    except TimeoutError:
        return False, got
    except ConnectionResetError:
        return True, got


def test_stalled_heads_are_closed_and_capacity_comes_back(
    guarded: tuple[str, TokenStore],
) -> None:
    url, store = guarded
    stalled = [_connect(url) for _ in range(GUARD.max_per_client)]
    for sock in stalled:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    # All of this client's connections are taken: one more is refused at once.
    extra = _connect(url)
    closed, reply = _closed_within(extra, 5)
    assert closed
    assert b"503" in reply.split(b"\r\n")[0]
    assert b"too_many_connections" in reply
    # The stalled heads are closed after the head timeout...
    started = time.monotonic()
    for sock in stalled:
        assert _closed_within(sock, 5)[0], "a stalled connection stayed open"
        sock.close()
    assert time.monotonic() - started < GUARD.head_timeout_s + 3
    # ... and the client is served again.
    assert call(f"{url}/v1/events", batch(event()), store.create("d20", ORG))[0] == 202


def test_a_body_that_stalls_gets_408(guarded: tuple[str, TokenStore]) -> None:
    url, store = guarded
    token = store.create("d21", ORG)
    sock = _connect(url)
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 1000\r\n\r\n[{"
    )
    closed, reply = _closed_within(sock, 15)
    assert closed
    assert reply.split(b"\r\n")[0].startswith(b"HTTP/1.1 408")
    assert b'"body_timeout"' in reply


def test_wrong_content_type_gets_415(guarded: tuple[str, TokenStore]) -> None:
    url, store = guarded
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/v1/events",
        data=batch(event()),
        headers={
            "Content-Type": "text/plain",
            "Authorization": f"Bearer {store.create('d22', ORG)}",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 415
    assert json.loads(err.value.read())["error"]["code"] == "unsupported_media_type"


def test_an_event_with_a_key_twice_is_refused_alone(
    isolated: Settings, guarded: tuple[str, TokenStore]
) -> None:
    url, store = guarded
    good = json.dumps(event())
    twice = json.dumps(event())[:-1] + ', "volunteer_id": "vol-999999"}'
    status, _, reply = call(
        f"{url}/v1/events", f"[{good}, {twice}]".encode(), store.create("d23", ORG)
    )
    assert status == 202
    assert [s.get("code") for s in reply["events"]] == [None, "duplicate_key"]
    assert stored(isolated) == 1


def test_a_tokens_dead_letters_are_bounded(
    isolated: Settings, guarded: tuple[str, TokenStore]
) -> None:
    url, store = guarded
    token = store.create("d24", ORG)
    bad = [invalid("out_of_range")] * 3
    assert call(f"{url}/v1/events", batch(*bad), token)[0] == 202  # 3 of the budget of 5
    status, headers, reply = call(f"{url}/v1/events", batch(event(), *bad), token)
    assert (status, reply["error"]["code"]) == (429, "dead_letter_budget")
    assert int(headers["Retry-After"]) >= 1
    assert stored(isolated) == 0  # nothing of the refused request
    letters = read_topic(isolated, f"{isolated.topic_prefix}dead-letters")
    assert len(letters) == 3
