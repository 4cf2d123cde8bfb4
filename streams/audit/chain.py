"""Tamper evidence: recompute each partition's hash chain from Kafka and compare.

For every partition, the accepted events (event_log's offsets up to the checkpoint) are read
back from the event topic, or from a copy of it (`--history TOPIC`: a mirror, a restored
backup), hashed as received and chained (projections.projection.chain_link). Three things must
hold, and the first place one fails is reported with its coordinates:

1. each event's content hash equals the one event_log recorded when it was counted;
2. the recomputed head equals the one stored with the checkpoint;
3. with `--against FILE`, the head equals the one kept in FILE (`frontline verify --heads`).

(1) and (2) catch a history changed after it was counted; a history rewritten together with
event_log and the stored chain passes them and is caught only by (3), against heads kept
somewhere the rewriter could not reach (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from projections.audit import ACCEPTED, HEAD_AT
from projections.projection import CHAIN_START, chain_link
from projections.store import StateStore
from streams.audit.history import Message, read_range
from streams.settings import ConfigError, Settings
from streams.topics import events_topic


@dataclass(frozen=True)
class Head:
    topic: str
    partition: int
    offset: int  # the checkpoint: the head covers the accepted events up to it
    events: int
    head: str  # hex


@dataclass
class ChainCheck:
    partition: int
    events: int = 0  # accepted events recomputed
    head: str = ""
    problem: str = ""  # empty: the chain holds
    offset: int | None = None  # where it first fails

    @property
    def ok(self) -> bool:
        return not self.problem


def heads(settings: Settings) -> list[Head]:
    """The chain heads at each partition's checkpoint."""
    client = settings.dashboard.client()
    out = []
    for (topic, partition), checkpoint in sorted(
        StateStore(settings.dashboard).checkpoints().items()
    ):
        params = {"topic": topic, "partition": partition, "checkpoint": checkpoint}
        events, head = client.execute(HEAD_AT, params)[0]
        if head:
            out.append(Head(topic, partition, checkpoint, int(events), str(head)))
    return out


class _Stop(Exception):  # noqa: N818 - control flow inside a read
    pass


def check_partition(
    settings: Settings,
    partition: int,
    checkpoint: int,
    history: str,
    kept: Head | None = None,
) -> ChainCheck:
    """Recompute one partition's chain from `history` (the event topic or a copy)."""
    topic = events_topic(settings)
    client = settings.dashboard.client()
    params = {"topic": topic, "partition": partition, "checkpoint": checkpoint}
    accepted = [(int(o), str(h)) for o, h in client.execute(ACCEPTED, params)]
    events, head = client.execute(HEAD_AT, params)[0]
    # The head stored with the checkpoint ('' before migration 0006: nothing to compare).
    links = [(checkpoint, int(events), str(head))] if head else []
    result = ChainCheck(partition)
    if kept is not None and kept.offset > checkpoint:
        result.problem = (
            f"the kept head is for offset {kept.offset}, beyond the checkpoint {checkpoint}: "
            "let the worker catch up first"
        )
        result.offset = kept.offset
        return result
    if not accepted:
        return result
    state = _Walk(accepted, links, kept, result)
    try:
        read_range(settings, history, partition, accepted[0][0], checkpoint, state.take)
        state.finish()
    except _Stop:
        pass
    return result


@dataclass
class _Walk:
    """Walks a partition's history in offset order against what was accepted."""

    accepted: list[tuple[int, str]]
    links: list[tuple[int, int, str]]
    kept: Head | None
    result: ChainCheck
    chain: bytes = CHAIN_START
    i: int = 0  # next accepted event
    j: int = 0  # next stored link
    previous: tuple[int, str] | None = None  # a mismatch waiting for the next message

    def take(self, message: Message) -> bool:
        digest = hashlib.sha256(message.value).hexdigest()
        if self.previous is not None:
            self._classify(message.offset, digest)
        self._links_before(message.offset)
        if self.i == len(self.accepted):
            return False
        offset, stored = self.accepted[self.i]
        if message.offset < offset:
            return True  # not counted (a duplicate, a rejection): not in the chain
        if message.offset > offset:
            self._fail(offset, f"offset {offset}, an accepted event, is missing from the history")
        if digest != stored:
            self.previous = (offset, digest)
            return True  # the next message tells a change from an insertion or a removal
        self.chain = chain_link(self.chain, digest)
        self.i += 1
        self.result.events = self.i
        self.result.head = self.chain.hex()
        return True

    def _classify(self, next_offset: int, next_digest: str) -> None:
        assert self.previous is not None
        offset, digest = self.previous
        stored = self.accepted[self.i][1]
        following = self.accepted[self.i + 1][1] if self.i + 1 < len(self.accepted) else None
        if next_digest == stored:
            what = "an event was inserted before it (the accepted one follows at the next offset)"
        elif digest == following:
            what = "the accepted event there was removed (the next one moved up to its offset)"
        else:
            what = "its content was changed"
        self._fail(
            offset, f"offset {offset} holds other content than the event counted there: {what}"
        )

    def _links_before(self, offset: int) -> None:
        """Compare the stored links (and the kept head) whose offset precedes `offset`."""
        while self.j < len(self.links) and self.links[self.j][0] < offset:
            version, events, head = self.links[self.j]
            if events == self.i and head != self.chain.hex():
                self._fail(
                    version,
                    f"the head stored at offset {version} differs from the recomputed one",
                )
            if events != self.i:
                self._fail(
                    version,
                    f"the head stored at offset {version} covers {events} events, the "
                    f"history {self.i} (a projection from before migration 0006 chains only "
                    "what came after: replay and swap to chain it all)",
                )
            self.j += 1
        if self.kept is not None and self.kept.offset < offset:
            if self.kept.events != self.i or self.kept.head != self.chain.hex():
                self._fail(
                    self.kept.offset,
                    f"the head kept for offset {self.kept.offset} differs from the recomputed one",
                )
            self.kept = None

    def finish(self) -> None:
        if self.previous is not None:
            offset, digest = self.previous
            following = self.accepted[self.i + 1][1] if self.i + 1 < len(self.accepted) else None
            what = "removed" if digest == following else "changed"
            self._fail(
                offset, f"offset {offset} holds other content than the event counted there ({what})"
            )
        if self.i < len(self.accepted):
            offset = self.accepted[self.i][0]
            self._fail(offset, f"the history ends before offset {offset}, an accepted event")
        self._links_before(1 << 63)

    def _fail(self, offset: int, problem: str) -> None:
        self.result.problem = problem
        self.result.offset = offset
        raise _Stop


def verify_chains(
    settings: Settings,
    history: str | None = None,
    kept: Mapping[int, Head] | None = None,
    progress: Callable[[ChainCheck], None] = lambda check: None,
) -> list[ChainCheck]:
    """Every partition with a checkpoint, from the event topic or the copy `history`."""
    topic = events_topic(settings)
    out = []
    for (t, partition), checkpoint in sorted(StateStore(settings.dashboard).checkpoints().items()):
        if t != topic:
            continue
        check = check_partition(
            settings, partition, checkpoint, history or topic, (kept or {}).get(partition)
        )
        out.append(check)
        progress(check)
    return out


def heads_document(settings: Settings) -> dict[str, object]:
    """The heads as an auditor keeps them (`frontline verify --heads > heads.json`)."""
    return {
        "frontline_chain_heads": 1,
        "database": settings.clickhouse_database,
        "taken_at_ms": int(time.time() * 1000),
        "heads": [
            {
                "topic": h.topic,
                "partition": h.partition,
                "offset": h.offset,
                "events": h.events,
                "head": h.head,
            }
            for h in heads(settings)
        ],
    }


def read_heads(text: str) -> dict[int, Head]:
    """Kept heads by partition, from the text of a heads file; ConfigError if it is not one."""
    try:
        document = json.loads(text)
        return {
            int(h["partition"]): Head(
                str(h["topic"]),
                int(h["partition"]),
                int(h["offset"]),
                int(h["events"]),
                str(h["head"]),
            )
            for h in document["heads"]
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"not a file of chain heads (`frontline verify --heads`): {exc}"
        ) from None
