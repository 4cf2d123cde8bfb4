"""`make bench`: Frontline, the ceiling and the peer on the same simulated campaign, in one run.

    make bench                       # scale 0.1 (573k messages), 5-9 minutes here
    .venv/bin/python -m bench --scale 1 --seconds 60

On one topic prefix filled with `frontline emit` from the simulator's campaign:
1. emit against a bare kafka-python send loop (alternating), and HTTP ingest;
2. the ceiling: the topic read by aiokafka `getmany`, by kafka-python, and by aiokafka with
   `json.loads` of every value, each in its own process;
3. the peer: ClickHouse's Kafka engine and materialized views (bench/peer.py), timed to the same
   end offsets, its figures against the simulator's oracle column by column;
4. Frontline: catch-up with one and with two workers (totals against the oracle, all columns),
   `frontline replay` of the caught-up database, the dashboard API polled on it;
5. freshness under a steady load from its own process (bench/load.py): Frontline at each
   `--rates`, the peer at 1,000 events/s.
CPU seconds and peak RSS of every process in a phase (worker, replay, Kafka, ClickHouse) are read
from /proc. The ratios table goes to stdout and, with the machine and the date, to `--out`
(docs/benchmarks.md). Figures only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bench_emit, profile
from bench.bench_dashboard import dashboard, poll
from bench.common import cpu_yardstick, delete_topics, fresh_database, quantile
from bench.peer import peer, wait_consumed
from bench.procs import ROOT, Meter, Usage, stack_pids
from projections import columns
from projections.database import create_database, drop_database
from projections.store import StateStore
from streams import topic_admin
from streams.settings import Settings
from streams.topics import events_topic
from streams.worker.lag import partition_lag

CLI = [sys.executable, "-m", "streams.cli"]
DATABASES = {"one": "_t7", "two": "_t6", "fresh": "_t4", "peer": "_t3"}  # stack-allowed names
PEER_LIMIT_S = 1800  # as wait_for's: a peer that stops consuming ends the run


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Phase:
    """One timed run: events covered, seconds, CPU and peak RSS per process."""

    events: int
    seconds: float
    usage: dict[str, Usage]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def cpu_us(self, names: tuple[str, ...] | None = None) -> float:
        """CPU per event in microseconds, of the named processes (all by default)."""
        chosen = [u for n, u in self.usage.items() if names is None or n in names]
        return sum(u.cpu_s for u in chosen) / max(1, self.events) * 1e6


@dataclass
class Results:
    scale: float
    started: datetime
    yardsticks: list[float] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


# -- the campaign ---------------------------------------------------------------------------


def settings_for(base: Settings, prefix: str, which: str) -> Settings:
    return base.model_copy(
        update={
            "topic_prefix": prefix,
            "clickhouse_database": base.clickhouse_database + DATABASES[which],
        }
    )


def campaign(base: Settings, scale: float, work: Path) -> tuple[Settings, int, dict[str, Any]]:
    """A fresh topic prefix holding the simulated campaign at `scale`: (settings, messages on
    the topic, the oracle's totals). The simulator's file is kept in `work` between runs."""
    lines, expect = work / f"sim-{scale}.jsonl", work / f"sim-{scale}.json"
    s = base.model_copy(update={"topic_prefix": f"mbench.{uuid.uuid4().hex[:6]}."})
    env = {**os.environ, **s.environ()}
    if not expect.exists():
        say(f"simulating the campaign at scale {scale} into {lines}")
        simulate = ["simulate", "--scale", str(scale), "--out", str(lines), "--expect", str(expect)]
        subprocess.run([*CLI, *simulate], env=env, check=True, cwd=ROOT)
    topic_admin.ensure(s)
    started = time.monotonic()
    emit = ["emit", str(lines), "--allow-rejects", "--quiet"]
    subprocess.run([*CLI, *emit], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    meta = json.loads(expect.read_text())
    messages = meta["meta"]["lines"] - meta["meta"]["invalid"]
    took = time.monotonic() - started
    say(f"campaign: {messages:,} messages emitted in {took:.1f} s ({messages / took:,.0f}/s)")
    return s, messages, meta["totals"]


# -- processes ------------------------------------------------------------------------------


def spawn(cmd: list[str], s: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            env={**os.environ, **s.environ()},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(
    done: Callable[[], bool],
    procs: list[subprocess.Popen[bytes]],
    log: Path,
    limit_s: float = 1800,
) -> None:
    """Until `done()`; exits with the log's tail if a process dies or `limit_s` passes."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"not done after {limit_s:.0f} s; the log {log}:\n{log.read_text()[-3000:]}")
        for p in procs:
            if p.poll() is not None:
                tail = log.read_text()[-3000:]
                sys.exit(f"a process exited ({p.args!r}); its log {log}:\n{tail}")
        time.sleep(0.2)


def caught_up(s: Settings) -> Callable[[], bool]:
    """A check that every partition's ClickHouse checkpoint covers the end offsets the topic
    has now: one small query per call (asking Kafka each time would load the broker that the
    phase measures)."""
    ends = {(r.topic, r.partition): r.end_offset for r in partition_lag(s)}
    store = StateStore(s.clickhouse)

    def done() -> bool:
        at = store.positions()
        return all(at.get(tp, (-1, 0))[0] + 1 >= end for tp, end in ends.items())

    return done


def run_child(cmd: list[str], s: Settings, stack: dict[str, int]) -> tuple[Phase, str]:
    """Run a command to its end; its own CPU and peak RSS come from wait4's rusage."""
    meter = Meter(stack).start()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **s.environ()}, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    usage = meter.stop()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-3000:]}")
    usage[Path(cmd[2] if cmd[1] == "-m" else cmd[0]).name] = Usage(
        rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss / 1024
    )
    return Phase(0, seconds, usage), out


# -- 1. ingest ------------------------------------------------------------------------------


def ingest(base: Settings, n: int, rounds: int, http_seconds: float, r: Results) -> None:
    paired = bench_emit.rounds(base, n, rounds, report=lambda line: say(f"emit: {line}"))
    r.figures["emit"] = {
        "bare": statistics.median(b for b, _ in paired),
        "emit": statistics.median(e for _, e in paired),
        "ratio": statistics.median(e / b for b, e in paired),
        "events": n,
        "rounds": rounds,
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_http.py"), "--seconds", str(http_seconds)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    line = done.stdout.strip().splitlines()[-1]
    say(line)
    found = re.search(r"= ([\d,]+) events/s.*p50 (\d+) ms, p99 (\d+) ms", line)
    if found:
        rate, p50, p99 = found.groups()
        r.figures["http"] = {"rate": float(rate.replace(",", "")), "p50": int(p50), "p99": int(p99)}


# -- 2. the ceiling -------------------------------------------------------------------------


def ceiling(s: Settings, messages: int, stack: dict[str, int], r: Results) -> None:
    for how in ("aiokafka", "kafka-python", "json"):
        # kafka-python decodes in pure Python (~25k/s here): its rate shows after 300k.
        n = min(messages, 300_000) if how == "kafka-python" else messages
        cmd = [sys.executable, "-m", "bench.ceiling", "--how", how]
        cmd += ["--bootstrap", s.bootstrap_servers[0], "--topic", events_topic(s)]
        phase, out = run_child([*cmd, "--total", str(n)], s, stack)
        timing = json.loads(out.strip().splitlines()[-1])
        phase.events, phase.seconds = n, timing["from_start_s"]
        phase.usage["reader"] = phase.usage.pop("bench.ceiling")
        r.phases[f"ceiling {how}"] = phase
        say(
            f"ceiling, {how}: {phase.rate:,.0f} messages/s from the process's start "
            f"({n / timing['from_first_s']:,.0f}/s from the first batch), "
            f"{phase.cpu_us(('reader',)):.2f} us CPU per message in the reader"
        )


# -- 3. the peer ----------------------------------------------------------------------------


def run_peer(
    base: Settings, s: Settings, messages: int, expected: dict[str, Any], stack: dict[str, int]
) -> Phase:
    ps = settings_for(base, s.topic_prefix, "peer")
    drop_database(ps.clickhouse)
    create_database(ps.clickhouse)
    meter = Meter(stack).start()
    started = time.monotonic()
    with peer(ps, events_topic(s)) as p:
        wait_consumed(p, messages, timeout=PEER_LIMIT_S, poll=0.2)
        seconds = time.monotonic() - started
        usage = meter.stop()
        got = p.totals()
    drop_database(ps.clickhouse)
    errors = {
        name: None if (value := got.get(name)) is None else _relative(value, expected[name])
        for name in columns.PUBLIC
    }
    phase = Phase(messages, seconds, usage, note=json.dumps(errors))
    say(
        f"peer (ClickHouse Kafka engine): {phase.rate:,.0f} messages/s, "
        f"{phase.cpu_us():.2f} us CPU per message (Kafka + ClickHouse)"
    )
    for name, err in errors.items():
        say(f"  {name:16} {'n/a' if err is None else f'{err:+.3%}'}")
    return phase


def _relative(got: float, want: float) -> float:
    return (float(got) - float(want)) / float(want) if want else float(got != want)


# -- 4. Frontline ---------------------------------------------------------------------------


def catch_up(
    s: Settings,
    workers: int,
    messages: int,
    expected: dict[str, Any],
    stack: dict[str, int],
    extra: list[str] | None = None,
) -> Phase:
    fresh_database(s)
    log = Path(tempfile.gettempdir()) / f"bench-suite-{s.clickhouse_database}.log"
    log.write_bytes(b"")
    meter = Meter(stack).start()
    started = time.monotonic()
    cmd = [*CLI, "worker", "--loglevel", "warning", *(extra or [])]
    procs = [spawn(cmd, s, log) for _ in range(workers)]
    for i, proc in enumerate(procs):
        meter.add(f"worker {i + 1}" if workers > 1 else "worker", proc.pid)
    try:
        wait_for(caught_up(s), procs, log)
        seconds = time.monotonic() - started
        usage = meter.stop()
    finally:
        for proc in procs:
            stop(proc)
    rows, cols = s.clickhouse.client().execute("SELECT * FROM totals", with_column_types=True)
    got = dict(zip((name for name, _ in cols), rows[0], strict=True))
    differ = [f"{k} {got[k]} != {v}" for k, v in expected.items() if got[k] != v]
    note = "exact, all 14 columns" if not differ else "MISMATCH: " + "; ".join(differ)
    phase = Phase(messages, seconds, usage, note)
    say(
        f"frontline catch-up, {workers} worker(s): {phase.rate:,.0f} messages/s incl. start-up, "
        f"{phase.cpu_us():.1f} us CPU per message (all processes); totals {note}"
    )
    return phase


def profile_catch_up(s: Settings, work: Path) -> str:
    """Another one-worker catch-up, under py-spy (it slows the worker: not timed), sorted into
    stages by bench/profile.py."""
    fresh_database(s)
    out = work / "worker-catch-up.prof"
    log = Path(tempfile.gettempdir()) / "bench-suite-profile.log"
    log.write_bytes(b"")
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"]
    spy += ["-r", "97", "--nonblocking", "-o", str(out), "--"]
    proc = spawn([*spy, *CLI, "worker", "--loglevel", "warning"], s, log)
    try:
        wait_for(caught_up(s), [proc], log)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its samples, the worker stops
        proc.wait(60)
    drop_database(s.clickhouse)
    found = profile.table(out.read_text())
    say(f"where the worker's samples went (py-spy, {out}):\n{found}")
    return found


def replay(live: Settings, messages: int, stack: dict[str, int], processes: int = 1) -> Phase:
    """`frontline replay --processes N` to the end; the replay's CPU includes its processes'
    (wait4 counts the children a process waited for)."""
    into = live.clickhouse_database + "_replay"
    drop_database(live.clickhouse.with_database(into))
    command = [*CLI, "replay", "--into", into, "--quiet", "--processes", str(processes)]
    phase, _ = run_child(command, live, stack)
    phase.usage["replay"] = phase.usage.pop("streams.cli")
    phase.events = messages
    drop_database(live.clickhouse.with_database(into))
    say(
        f"frontline replay, {processes} process(es): {phase.rate:,.0f} messages/s, "
        f"{phase.cpu_us():.1f} us CPU per message"
    )
    return phase


def api_latency(live: Settings, pollers: int, seconds: float, r: Results) -> None:
    with dashboard(live) as base:
        asyncio.run(poll(base, 2, 2))  # not counted: the server's first answers (README)
        polled = asyncio.run(poll(base, pollers, seconds))
    out = {}
    for name in ("totals", "daily (month)"):
        values = polled[name]
        out[name] = {
            "p50": quantile(values, 0.5),
            "p95": quantile(values, 0.95),
            "requests": len(values),
        }
        say(f"dashboard API {name}: p50 {out[name]['p50']:.1f} ms, p95 {out[name]['p95']:.1f} ms")
    r.figures["api"] = {"pollers": pollers, "seconds": seconds, **out}


# -- 5. freshness ---------------------------------------------------------------------------


def under_load(
    s: Settings, rate: int, seconds: float, visible: Callable[[], int]
) -> tuple[list[float], str]:
    """Seconds from a slice's acknowledgement to its sampling assists being visible, for as many
    slices as can be probed one after another while bench/load.py sends."""
    base = visible()
    cmd = [sys.executable, "-m", "bench.load", "--bootstrap", s.bootstrap_servers[0]]
    cmd += ["--topic", events_topic(s), "--rate", str(rate), "--seconds", str(seconds)]
    # New event ids each run: a repeated id is a duplicate to Frontline and never shows.
    cmd += ["--seed", str(uuid.uuid4().int & 0xFFFFFFFF)]
    load = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    acked: list[tuple[float, int]] = []

    def read() -> None:
        assert load.stdout is not None
        for line in load.stdout:
            at, total = line.split()
            acked.append((float(at), int(total)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    delays: list[float] = []
    probed = 0
    while reader.is_alive() or probed < len(acked):
        if len(acked) <= probed:
            time.sleep(0.02)
            continue
        probed = len(acked)
        at, total = acked[-1]
        deadline = time.monotonic() + 120
        while visible() < base + total:
            if time.monotonic() > deadline:
                sys.exit(f"events sent at {rate}/s not visible after 120 s")
            time.sleep(0.005)
        delays.append(time.monotonic() - at)
    load.wait()
    assert load.stderr is not None
    behind = load.stderr.read().strip()
    if behind:  # the load could not keep the rate: the figure is for a lower one
        say(f"load generator at {rate}/s: {behind}")
    return delays, behind.lstrip("# ")


def freshness(base: Settings, rates: list[int], seconds: float, r: Results) -> None:
    s = settings_for(base, f"fbench.{uuid.uuid4().hex[:6]}.", "fresh")
    ps = settings_for(base, s.topic_prefix, "peer")
    topic_admin.ensure(s)
    try:
        r.figures["freshness"] = _freshness(s, ps, rates, seconds)
    finally:
        drop_database(ps.clickhouse)
        drop_database(s.clickhouse)
        delete_topics(s)


def _freshness(
    s: Settings, ps: Settings, rates: list[int], seconds: float
) -> dict[str, dict[str, Any]]:
    fresh_database(s)
    log = Path(tempfile.gettempdir()) / "bench-suite-freshness.log"
    log.write_bytes(b"")
    worker = spawn([*CLI, "worker", "--loglevel", "warning"], s, log)
    client = s.clickhouse.client()

    def frontline_sampling() -> int:
        return int(client.execute("SELECT sampling_assists FROM totals")[0][0])

    out: dict[str, dict[str, Any]] = {}
    try:
        # Warm-up, not measured: the worker joins the group and loads its partitions.
        under_load(s, 100, 1, frontline_sampling)  # (delays, note) discarded
        for rate in rates:
            delays, behind = under_load(s, rate, seconds, frontline_sampling)
            out[f"frontline {rate}"] = _summary(delays, behind)
            say(f"freshness, frontline at {rate}/s: {_line(delays)}")
    finally:
        stop(worker)
    drop_database(ps.clickhouse)
    create_database(ps.clickhouse)
    ends = sum(x.end_offset for x in partition_lag(s))
    with peer(ps, events_topic(s)) as p:
        wait_consumed(p, ends, timeout=PEER_LIMIT_S, poll=0.2)

        def peer_sampling() -> int:
            return int(p.totals()["sampling_assists"] or 0)

        delays, behind = under_load(s, 1000, seconds, peer_sampling)
        out["peer 1000"] = _summary(delays, behind)
        say(f"freshness, peer at 1000/s: {_line(delays)}")
    return out


def _summary(delays: list[float], behind: str) -> dict[str, Any]:
    return {
        "p50": quantile(delays, 0.5),
        "p99": quantile(delays, 0.99),
        "probes": len(delays),
        "behind": behind,  # the load generator's own note when it could not keep the rate
    }


def _line(delays: list[float]) -> str:
    return (
        f"{len(delays)} probes, p50 {quantile(delays, 0.5) * 1000:.0f} ms, "
        f"p99 {quantile(delays, 0.99) * 1000:.0f} ms"
    )


# -- the report -----------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().split()[1]
    return (
        f"{os.cpu_count()} cores ({model}), {int(mem) / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def report(r: Results) -> str:
    p = r.phases
    one, two, peer_, ceil = p["catch-up 1"], p["catch-up 2"], p["peer"], p["ceiling json"]
    fresh = r.figures.get("freshness", {})
    emit = r.figures.get("emit", {})
    lines = [
        "| figure | Frontline | ceiling (json.loads) | peer (Kafka engine) | vs ceiling | vs peer "
        "| target |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(name: str, value: float, unit: str, target: str, vs_peer: bool = True) -> None:
        lines.append(
            f"| {name} | {value:,.0f} {unit} | {ceil.rate:,.0f} {unit} | "
            f"{peer_.rate:,.0f} {unit} | {ratio(value, ceil.rate)} | "
            f"{ratio(value, peer_.rate) if vs_peer else ''} | {target} |"
        )

    row("catch-up, 1 worker", one.rate, "msg/s", ">= 0.2x ceiling, >= 0.5x peer")
    row("catch-up, 2 workers", two.rate, "msg/s", "")
    row("replay", p["replay"].rate, "msg/s", "")
    if "replay 2" in p:
        row("replay, 2 processes", p["replay 2"].rate, "msg/s", "")
    lines.append(
        f"| CPU per message, all processes | {one.cpu_us():.1f} us | "
        f"{ceil.cpu_us():.2f} us | {peer_.cpu_us():.2f} us | {ratio(one.cpu_us(), ceil.cpu_us())} "
        f"| {ratio(one.cpu_us(), peer_.cpu_us())} | <= 15 us |"
    )
    for rate, target in ((100, ""), (1000, "p99 <= 1 s"), (5000, "p99 <= 2 s")):
        f = fresh.get(f"frontline {rate}")
        if f is None:
            continue
        peer_f = fresh.get("peer 1000") if rate == 1000 else None
        peer_cell = f"p99 {peer_f['p99']:.2f} s" if peer_f else ""
        lines.append(
            f"| freshness at {rate}/s | p50 {f['p50']:.2f} s, p99 {f['p99']:.2f} s"
            f"{' (the load ' + f['behind'] + ')' if f['behind'] else ''} | | "
            f"{peer_cell} | | {ratio(f['p99'], peer_f['p99']) + ' (p99)' if peer_f else ''} "
            f"| {target} |"
        )
    errors = json.loads(peer_.note)
    off = {k: v for k, v in errors.items() if v}
    worst = max(off, key=lambda k: abs(off[k])) if off else None
    peer_counts = (
        f"{len(off)} of {len(errors)} columns off, worst {worst} {off[worst]:+.1%}"
        if worst
        else f"exact, all {len(errors)} columns"
    )
    lines.append(
        f"| counts against the oracle | {one.note}; 2 workers: {two.note} | | {peer_counts} "
        "| | | exact |"
    )
    if emit:
        lines.append(
            f"| emit (vs bare kafka-python {emit['bare']:,.0f}/s) | {emit['emit']:,.0f} ev/s "
            f"| | | {emit['ratio']:.2f}x bare | | >= 0.85x bare |"
        )
    http = r.figures.get("http")
    if http:
        lines.append(
            f"| HTTP ingest, 8 clients x 100 | {http['rate']:,.0f} ev/s, p99 {http['p99']} ms "
            "| | | | | |"
        )
    api = r.figures.get("api")
    if api:
        t, d = api["totals"], api["daily (month)"]
        lines.append(
            f"| dashboard API, {api['pollers']} pollers | totals p95 {t['p95']:.1f} ms, "
            f"daily p95 {d['p95']:.1f} ms | | | | | |"
        )
    table = "\n".join(lines)

    phases = [
        "| phase | messages | seconds | msg/s | CPU us/msg | per process: CPU s, peak RSS "
        "| counts |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ph in p.items():
        per = "; ".join(
            f"{n} {u.cpu_s:.1f} s, {u.peak_mib:.0f} MiB" for n, u in sorted(ph.usage.items())
        )
        counts = ph.note if not ph.note.startswith("{") else "see the peer's errors"
        phases.append(
            f"| {name} | {ph.events:,} | {ph.seconds:.1f} | {ph.rate:,.0f} | "
            f"{ph.cpu_us():.2f} | {per} | {counts} |"
        )
    peer_errors = ", ".join(f"{k} {'n/a' if v is None else f'{v:+.2%}'}" for k, v in errors.items())
    phase_table = "\n".join(phases)
    readers = []
    for how in ("aiokafka", "kafka-python", "json"):
        if f"ceiling {how}" in p:
            c = p[f"ceiling {how}"]
            readers.append(f"{how} {c.rate:,.0f} msg/s ({c.cpu_us(('reader',)):.2f} us CPU/msg)")
    ceilings = (
        f"The ceiling, each reader in its own process: {'; '.join(readers)}. The table's "
        "ceiling is the last: every message through `json.loads`, the least any consumer of "
        "JSON events does."
    )
    return (
        f"# Benchmarks\n\nOne `make bench` run (bench/suite.py): scale {r.scale}, "
        f"{one.events:,} messages; {r.started:%Y-%m-%d %H:%M} UTC; {machine()}; CPU yardstick "
        f"(bench/common.py, lower is faster) {', '.join(f'{y:.2f}' for y in r.yardsticks)} s.\n\n"
        f"## Ratios\n\n{ceilings}\n\n{table}\n\n"
        "Rates are from each process's start to the same end offsets (start-up included). CPU "
        "per message adds every process of the phase: the reader or worker(s), Kafka's JVM and "
        "ClickHouse's server.\n\n"
        f"## Phases\n\n{phase_table}\n\n"
        f"## The peer's error against the oracle, per column\n\n{peer_errors}\n"
        + (
            "\n## Where one worker's time goes (`--profile`: py-spy, a separate catch-up)\n\n"
            f"{r.figures['profile']}\n"
            if "profile" in r.figures
            else ""
        )
    )


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="of the simulated campaign")
    parser.add_argument("--seconds", type=float, default=20, help="of load per freshness rate")
    parser.add_argument("--rates", default="100,1000,5000", help="freshness loads, events/s")
    parser.add_argument("--emit-events", type=int, default=100_000)
    parser.add_argument("--pollers", type=int, default=20, help="dashboard API clients")
    parser.add_argument("--api-seconds", type=float, default=10, help="of dashboard polling")
    parser.add_argument("--http-seconds", type=float, default=10, help="of HTTP ingest")
    parser.add_argument(
        "--profile", action="store_true", help="also: a catch-up under py-spy, by stage"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--work", type=Path, default=ROOT / ".state" / "bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = Settings.from_env()
    stack = stack_pids()
    r = Results(args.scale, datetime.now(UTC))
    r.yardsticks.append(cpu_yardstick())
    say(f"machine: {machine()}; CPU yardstick {r.yardsticks[0]:.2f} s")
    started = time.monotonic()
    s, messages, expected = campaign(base, args.scale, args.work)
    try:
        ingest(base, min(args.emit_events, messages), 2, args.http_seconds, r)
        ceiling(s, messages, stack, r)
        r.phases["peer"] = run_peer(base, s, messages, expected, stack)
        one = settings_for(base, s.topic_prefix, "one")
        r.phases["catch-up 1"] = catch_up(one, 1, messages, expected, stack)
        r.phases["replay"] = replay(one, messages, stack)
        r.phases["replay 2"] = replay(one, messages, stack, processes=2)
        api_latency(one, args.pollers, args.api_seconds, r)
        two = settings_for(base, s.topic_prefix, "two")
        r.phases["catch-up 2"] = catch_up(two, 2, messages, expected, stack)
        if args.profile:
            # A group of its own: catch-up 2's may still list a stopped worker for 15 s.
            fresh = settings_for(base, s.topic_prefix, "fresh")
            r.figures["profile"] = profile_catch_up(fresh, args.work)
        drop_database(two.clickhouse)
        drop_database(one.clickhouse)
        rates = [int(x) for x in args.rates.split(",") if x]
        freshness(base, rates, args.seconds, r)
    finally:
        delete_topics(s)
    r.yardsticks.append(cpu_yardstick())
    text = report(r)
    say("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    say(f"written to {args.out}; the run took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
