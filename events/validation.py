"""Checking JSON Lines against the contract (what `frontline validate` prints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from events.decode import DEFAULT_MAX_BYTES, decode
from events.rejections import Rejected
from events.types import Event


@dataclass(frozen=True)
class LineResult:
    """The verdict on one line: an event, or the rejection."""

    number: int
    event: Event | None
    rejection: Rejected | None

    def describe(self) -> str:
        if self.rejection is None:
            assert self.event is not None
            return f"{self.number}: ok {self.event.type} {self.event.event_id}"
        return f"{self.number}: {self.rejection.code}: {self.rejection.message}"


@dataclass
class Summary:
    """Totals over the lines seen so far."""

    ok: int = 0
    by_code: Counter[str] = field(default_factory=Counter)

    def add(self, result: LineResult) -> None:
        if result.rejection is None:
            self.ok += 1
        else:
            self.by_code[result.rejection.code] += 1

    @property
    def invalid(self) -> int:
        return sum(self.by_code.values())

    def describe(self) -> str:
        text = f"{self.ok + self.invalid} lines: {self.ok} ok, {self.invalid} invalid"
        if self.by_code:
            text += " (" + ", ".join(f"{c}: {n}" for c, n in sorted(self.by_code.items())) + ")"
        return text


def check_lines(
    lines: Iterable[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    received_at: datetime | None = None,
) -> Iterator[LineResult]:
    """Decode each line (one message per line, `\\n` or `\\r\\n`); blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        raw = line[:-1] if line.endswith(b"\n") else line
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if not raw.strip():
            continue
        try:
            yield LineResult(
                number, decode(raw, max_bytes=max_bytes, received_at=received_at), None
            )
        except Rejected as err:
            yield LineResult(number, None, err)
