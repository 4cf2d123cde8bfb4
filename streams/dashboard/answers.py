"""Answers of the dashboard API, kept per query and parameters until a checkpoint moves.

Many pollers ask the same few questions, and the answer only changes when the worker writes a
checkpoint. So each answer is kept with the checkpoint state it was computed at; a poll that
finds the state unchanged costs a dictionary lookup. When the state has moved, the last answer
is served (it says which checkpoint time it is as of) while one query computes the new one in
the background: pollers never wait on ClickHouse, except the first ever for a question.

Refreshes run one at a time for the whole server, and after each the next waits
`pause_factor` times as long as that one took: at most 1 / (1 + pause_factor) of one
ClickHouse core goes to the dashboard however many pollers there are, so a worker catching up
keeps the rest. At scale 1 (totals 0.2 s, a month of daily_by_org 0.7 s) figures trail the
checkpoints by a few seconds while the worker writes, and not at all once it is idle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str
    # The newest checkpoint time the answer covers (ms since the epoch; 0 before any).
    as_of_ms: int
    state: Hashable


@dataclass
class _Slot:
    answer: Answer | None = None
    refresh: asyncio.Task[Answer] | None = None


class Answers:
    def __init__(
        self,
        capacity: int = 256,
        pause_factor: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.pause_factor = pause_factor
        self.clock = clock
        self.slots: OrderedDict[Hashable, _Slot] = OrderedDict()
        self.refreshing = 0
        self.next_refresh_at = 0.0

    def _slot(self, key: Hashable) -> _Slot:
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = _Slot()
            while len(self.slots) > self.capacity:
                self.slots.popitem(last=False)
        else:
            self.slots.move_to_end(key)
        return slot

    async def get(
        self, key: Hashable, state: Hashable, compute: Callable[[], Awaitable[Answer]]
    ) -> Answer:
        """The answer for `key`: current if computed at `state`, else the last one while a
        refresh runs (or waits its turn); computed now only when there is none yet."""
        slot = self._slot(key)
        answer = slot.answer
        if answer is not None and answer.state == state:
            return answer
        if slot.refresh is None and (answer is None or self._may_refresh()):
            slot.refresh = asyncio.get_running_loop().create_task(self._refresh(slot, compute))
            # A refresh nobody awaits must not leave its error unread (it is logged).
            slot.refresh.add_done_callback(lambda t: t.cancelled() or t.exception())
        if answer is not None:
            return answer
        assert slot.refresh is not None  # a slot without an answer always has a refresh
        return await asyncio.shield(slot.refresh)

    def _may_refresh(self) -> bool:
        return self.refreshing == 0 and self.clock() >= self.next_refresh_at

    async def _refresh(self, slot: _Slot, compute: Callable[[], Awaitable[Answer]]) -> Answer:
        self.refreshing += 1
        started = self.clock()
        try:
            slot.answer = await compute()
            return slot.answer
        except Exception:
            log.exception("dashboard: a query failed; the last answer stands")
            raise
        finally:
            self.refreshing -= 1
            took = self.clock() - started
            self.next_refresh_at = max(
                self.next_refresh_at, self.clock() + took * self.pause_factor
            )
            slot.refresh = None
