"""The pieces of a fault run: a simulated campaign and its oracle, a steady load that retries
like a field app, and the checks after the fault (exact counts, nothing lost or counted twice,
the time the pipeline took to move again)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events import Rejected, decode
from projections.store import StateStore
from streams.ingest.producer import IngestError, Producer
from streams.settings import Settings
from tests.integration import harness
from tests.integration.harness import assert_counts_exact, frontline, stuck


@dataclass
class Campaign:
    lines: list[bytes]  # the valid lines, in the simulator's order
    expected: dict[str, Any]


def simulate(settings: Settings, tmp_path: Path, scale: str, seed: int) -> Campaign:
    out, expect = tmp_path / "events.jsonl", tmp_path / "expected.json"
    sim = frontline(
        settings, "simulate", "--scale", scale, "--seed", str(seed), "--out", str(out),
        "--expect", str(expect),
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    lines = []
    for line in out.read_bytes().splitlines():
        try:
            decode(line)
        except Rejected:
            continue  # invalid lines are tested elsewhere; here every line sent is valid
        lines.append(line)
    return Campaign(lines, json.loads(expect.read_text()))


Sender = Callable[[list[bytes]], None]  # blocks until every line is stored; raises to retry


def sdk_sender(settings: Settings) -> tuple[Sender, Callable[[], None]]:
    """Send through the producer SDK; returns the sender and a close function."""
    producer = Producer(settings, delivery_timeout_s=10, max_block_s=10)

    def send(lines: list[bytes]) -> None:
        for delivery in [producer.send(line) for line in lines]:
            delivery.result()

    return send, lambda: producer.close(timeout=10)


def http_sender(url: str, tokens: dict[str, str]) -> Sender:
    """POST to HTTP ingest with the token of the batch's org (a device is bound to one org);
    a 503 or 429 raises so the batch is sent again, as apps do."""

    def send(lines: list[bytes]) -> None:
        body = b"[" + b",".join(lines) + b"]"
        token = tokens[json.loads(lines[0])["org_id"]]
        request = urllib.request.Request(
            f"{url}/v1/events",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as err:
            after = float(err.headers.get("Retry-After") or 1)
            raise RetryLater(f"HTTP {err.code}", after) from None
        except OSError as err:
            raise RetryLater(str(err), 1) from None
        assert reply["accepted"] == len(lines), reply

    return send


class RetryLater(Exception):  # noqa: N818 - what the sender says
    def __init__(self, why: str, after_s: float) -> None:
        super().__init__(why)
        self.after_s = after_s


@dataclass
class Load:
    """Sends the lines at `rate` events/s in batches, each batch again until it is stored."""

    send: Sender
    lines: list[bytes]
    rate: int
    batch: int = 50
    copies: int = 1  # each line sent this many times (a duplicate flood)
    by_org: bool = False  # batches of one org each (HTTP: a token is bound to one org)
    acked: list[float] = field(default_factory=list)  # monotonic time of each stored event
    tried: list[float] = field(default_factory=list)  # ... of each event's first attempt
    failures: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 600) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not finish"
        if self.error is not None:
            raise self.error

    @property
    def sent(self) -> int:
        return len(self.acked)

    def offered_between(self, start: float, end: float) -> int:
        """Events first sent in [start, end]: what entered the pipeline during a fault."""
        return bisect_right(self.tried, end) - bisect_left(self.tried, start)

    def _run(self) -> None:
        try:
            started = time.monotonic()
            lines = [line for line in self.lines for _ in range(self.copies)]
            done = 0
            for chunk in self._chunks(lines):
                first_try = time.monotonic()
                while True:
                    try:
                        self.send(chunk)
                        break
                    except (RetryLater, IngestError) as exc:
                        self.failures += 1
                        time.sleep(getattr(exc, "after_s", 1.0))
                now = time.monotonic()
                self.acked.extend([now] * len(chunk))
                self.tried.extend([first_try] * len(chunk))
                done += len(chunk)
                ahead = started + done / self.rate - now
                if ahead > 0:
                    time.sleep(ahead)
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def _chunks(self, lines: list[bytes]) -> list[list[bytes]]:
        if not self.by_org:
            return [lines[i : i + self.batch] for i in range(0, len(lines), self.batch)]
        # Each org's lines keep their order (an id's copies are of one org).
        chunks, pending = [], dict[str, list[bytes]]()
        for line in lines:
            org = json.loads(line)["org_id"]
            pending.setdefault(org, []).append(line)
            if len(pending[org]) == self.batch:
                chunks.append(pending.pop(org))
        return chunks + list(pending.values())


def start_worker(settings: Settings, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A worker logging at info level: a fault's failure shows its assignments and loads."""
    return harness.start_worker(settings, log, *args, loglevel="info")


def progress(settings: Settings) -> int:
    """Messages covered by ClickHouse checkpoints, over all partitions."""
    return sum(v + 1 for v in StateStore(settings.clickhouse).checkpoints().values())


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    workers: Sequence[subprocess.Popen[bytes]] = (),
    log: Path | None = None,
) -> None:
    """Until `predicate()`; fails at once if one of `workers` exited (its log's end shown)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [w for w in workers if w.poll() is not None]
        tail = log.read_text()[-3000:] if log is not None else ""
        if dead:
            raise AssertionError(f"{what}: a worker exited ({dead[0].returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{stuck(workers, log)}")
        time.sleep(0.2)


def recovery_after(
    settings: Settings,
    since: float,
    workers: Sequence[subprocess.Popen[bytes]],
    log: Path,
    timeout: float = 300,
) -> float:
    """Seconds from `since` until a checkpoint moves (the pipeline counts again); fails at once
    with the log's end if one of `workers` exited meanwhile."""
    deadline = time.monotonic() + timeout
    start = None
    while time.monotonic() < deadline:
        if dead := [w for w in workers if w.poll() is not None]:
            raise AssertionError(
                f"a worker exited ({dead[0].returncode}) after the fault:\n"
                f"{log.read_text()[-3000:]}"
            )
        try:
            now = progress(settings)
        except Exception:  # ClickHouse still starting
            time.sleep(0.2)
            continue
        if start is None:
            start = now
        elif now > start:
            return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(
        f"no checkpoint moved within {timeout:.0f} s of the fault's end:\n{stuck(workers, log)}"
    )


@dataclass(frozen=True)
class Outage:
    down: float  # monotonic times: the server stopped, and started again
    up: float
    recovery_s: float  # from `up` until a checkpoint moved


def outage(
    settings: Settings,
    campaign: Campaign,
    outage_s: float,
    workers: Sequence[subprocess.Popen[bytes]],
    log: Path,
    stop: Callable[[], object],
    start: Callable[[], object],
) -> Outage:
    """A server down for `outage_s` once a quarter of the campaign counts, then up again; when
    it went down and up, and how long the pipeline took to count again."""
    quarter = len(campaign.lines) // 4
    wait_until(lambda: progress(settings) > quarter, 120, "progress", workers, log)
    down = time.monotonic()
    stop()
    time.sleep(outage_s)
    start()
    up = time.monotonic()
    return Outage(down, up, recovery_after(settings, up, workers, log))


@dataclass(frozen=True)
class Verdict:
    lost: int
    double_counted: int


def verdict(settings: Settings, campaign: Campaign) -> Verdict:
    """Exact counts (asserted), and how many unique events are missing or counted twice."""
    client = settings.clickhouse.client()
    unique, copies = client.execute(
        "SELECT uniqExact(event_id), uniqExact(kafka_partition, event_id) FROM event_log"
    )[0]
    want = campaign.expected["meta"]["accepted_unique"]
    result = Verdict(lost=max(want - int(unique), 0), double_counted=int(copies) - int(unique))
    assert result == Verdict(0, 0), result
    assert_counts_exact(settings, campaign.expected)
    return result
