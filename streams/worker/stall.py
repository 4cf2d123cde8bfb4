"""A worker that stops writing while work waits says so, and where each of its tasks waits:
a Kafka or ClickHouse outage logs its own retries, but a hang inside the worker would otherwise
leave a silent process whose counts stand still."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("frontline.worker")


@dataclass
class StallWatch:
    """Seconds without a batch written while work waits, reported once per stall."""

    after_s: float
    since: float  # when the last batch was written (or the watch started)
    done: int = 0  # batches written, as last seen
    reported: bool = False

    def check(self, now: float, done: int, waiting: bool) -> float | None:
        """The stall's length when it is to be reported now, else None. `done`: batches
        written so far; `waiting`: a batch is handed over and not written, or Kafka holds
        messages past an assigned partition's checkpoint."""
        if done != self.done or not waiting:
            self.done, self.since, self.reported = done, now, False
            return None
        stalled = now - self.since
        if self.reported or stalled < self.after_s:
            return None
        self.reported = True
        return stalled


def task_stacks() -> str:
    """Every other asyncio task of the running loop with the chain of coroutines it awaits,
    outermost first (`Task.print_stack` shows only a suspended task's outermost frame)."""
    out = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        out.append(f"task {task.get_name()}:")
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = next((f for a in _FRAMES if (f := getattr(awaited, a, None)) is not None), None)
            if frame is None:  # a future, or an async generator's step
                out.append(f"    awaits {type(awaited).__name__}")
                break
            code = frame.f_code
            out.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
            awaited = next(
                (w for a in _AWAITS if (w := getattr(awaited, a, None)) is not None), None
            )
    return "\n".join(out)


_FRAMES = ("cr_frame", "gi_frame", "ag_frame")
_AWAITS = ("cr_await", "gi_yieldfrom", "ag_await")


async def watch(
    after_s: float, written: Callable[[], int], waiting: Callable[[], str | None]
) -> None:
    """Logs, once per stall, when no batch was written for `after_s` seconds while work waits,
    with every task's stack; and when batches are written again. `written()`: batches written
    so far; `waiting()`: what waits (a batch handed over, messages in Kafka), or None."""
    stall = StallWatch(after_s, time.monotonic())
    every = min(5.0, max(0.5, after_s / 4))
    while True:
        await asyncio.sleep(every)
        why = waiting()
        was_reported = stall.reported
        stalled = stall.check(time.monotonic(), written(), why is not None)
        if was_reported and not stall.reported:
            log.warning("the worker moves again (batches written: %d)", stall.done)
        if stalled is not None:
            log.warning(
                "no batch written for %.0f s while %s (FRONTLINE_WORKER_STALL_S=%g); where "
                "each task waits:\n%s",
                stalled,
                why,
                after_s,
                task_stacks(),
            )
