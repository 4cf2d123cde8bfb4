"""A replay shared among processes: each replays some of the plan's partitions.

One process projects ~10-20k messages/s here, whatever its partitions, and the projection is
CPU-bound Python: on a box with cores to spare, N processes replay a partition share each
(partition i goes to process i mod N) into the same database. Each partition is still
projected by exactly one process from its checkpoint, so the result, and a resume after an
interruption, are the same as with one process. The processes are spawned (a fresh
interpreter: no inherited sockets or threads), die with the parent (PR_SET_PDEATHSIG: a
killed replay leaves no orphan writing on), and report progress through a shared counter.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import queue
import signal
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from projections.replays import ReplayPlan
from projections.store import StateStore
from streams.settings import Settings
from streams.worker.pipeline import BatchStats

POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


class ReplayProcessError(Exception):
    """A process of a parallel replay failed; the others were stopped."""


def run_in_processes(
    source: Settings,
    into: Settings,
    plan: ReplayPlan,
    progress: Any,
    on_plan: Callable[[ReplayPlan, bool], None],
    batch_max: int,
    write_max: int,
    processes: int,
) -> tuple[BatchStats, int]:
    """Replay `plan` into `into` with `processes` processes; (their summed stats, messages an
    earlier run had replayed already)."""
    resumed_at = resumed(into, plan)
    on_plan(plan, resumed_at > 0)
    progress.start(plan.size, resumed_at)
    shares = [
        frozenset(p.partition for i, p in enumerate(plan.partitions) if i % processes == n)
        for n in range(min(processes, len(plan.partitions)))
    ]
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, BatchStats | str]] = ctx.Queue()
    counters = [ctx.Value("q", 0) for _ in shares]
    procs = [
        ctx.Process(
            target=_child,
            args=(n, source, into, plan, share, counters[n], results, batch_max, write_max),
            name=f"frontline-replay-{n + 1}",
            daemon=True,
        )
        for n, share in enumerate(shares)
    ]
    for proc in procs:
        proc.start()
    reported = 0
    done: dict[int, BatchStats] = {}
    try:
        while len(done) < len(procs):
            _collect(results, done, len(procs), POLL_S)
            now = sum(int(c.value) for c in counters)
            progress.advance(now - reported)
            reported = now
            for n, proc in enumerate(procs):
                if n not in done and not proc.is_alive() and proc.exitcode not in (0, None):
                    _collect(results, done, len(procs), 2.0)  # its own report says more
                    raise ReplayProcessError(
                        f"replay process {n + 1} of {len(procs)} exited with {proc.exitcode}; "
                        "run the same command again to resume"
                    )
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(10)
    total = BatchStats()
    for stats in done.values():
        total.add(stats)
    return total, resumed_at


def _collect(
    results: multiprocessing.Queue[tuple[int, BatchStats | str]],
    done: dict[int, BatchStats],
    processes: int,
    wait_s: float,
) -> None:
    """One report from a process, if one comes within `wait_s`; a failure raises."""
    try:
        n, outcome = results.get(timeout=wait_s)
    except queue.Empty:
        return
    if isinstance(outcome, str):
        raise ReplayProcessError(
            f"replay process {n + 1} of {processes} failed: {outcome}; run the same command "
            "again to resume"
        )
    done[n] = outcome


def resumed(into: Settings, plan: ReplayPlan) -> int:
    """Messages of the plan the database's checkpoints cover already (an interrupted run)."""
    store = StateStore(into.clickhouse)
    try:
        at = store.checkpoints()
    finally:
        store.reset()
    return sum(p.covered(at.get((p.topic, p.partition), -1)) for p in plan.partitions)


class _Counted:
    """A replay's progress, counted where the parent reads it."""

    def __init__(self, counter: Synchronized[int]) -> None:
        self._counter = counter

    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, messages: int) -> None:
        with self._counter.get_lock():
            self._counter.value += messages


def _child(
    n: int,
    source: Settings,
    into: Settings,
    plan: ReplayPlan,
    share: frozenset[int],
    counter: Synchronized[int],
    results: multiprocessing.Queue[tuple[int, BatchStats | str]],
    batch_max: int,
    write_max: int,
) -> None:
    with contextlib.suppress(OSError, AttributeError):  # Linux: die with the parent, even
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # when it is SIGKILLed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops everyone
    from streams.audit.replay import replay_partitions

    try:
        stats = replay_partitions(
            source, into, plan, share, _Counted(counter), batch_max, write_max
        )
    except Exception as exc:
        results.put((n, f"{type(exc).__name__}: {exc}"))
        raise
    results.put((n, stats))  # flushed before the process ends (multiprocessing joins it)
