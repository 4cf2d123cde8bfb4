"""No phone number reaches Kafka or ClickHouse in clear (issue #11, finding 4).

A small simulated campaign, seeded with phone numbers in every field of every event type, in
every form a field app might send them (separated by - . : _ or spaces, with +86, full-width
digits, JSON-escaped digits, inside ids, nested in unknown fields), through `frontline emit`
and through a raw producer straight into the event topic (the worker's path). Then every
message of every Frontline topic, dead letters' kept originals included, and every row of every
ClickHouse table is scanned for each number: none is found. Only the raw producer's own
messages are left out of the scan: what bypasses ingest is stored as sent (on a real cluster,
SASL and ACLs keep such producers out), and what matters is that nothing Frontline writes
repeats it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from events.examples import EXAMPLES
from streams.dead_letters import read_dead_letter
from streams.settings import Settings
from streams.topics import dead_letter_topic, events_topic
from tests.integration.harness import count_to_the_end, frontline
from tests.integration.ingest_helpers import read_topic

FULL_WIDTH = str.maketrans(
    "0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"
)
FORMS = [
    "{n}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "{a}:{b}:{c}",
    "{a}_{b}_{c}",
    "{a} {b} {c}",
    "+86 {a} {b} {c}",
    "(+86){n}",
    "vol.{a}.{b}.{c}",
    "v:{a}:{b}:{c}",
    "x-{a}_{b}.{c}",
]


class Numbers:
    """Fresh mobile numbers, remembered for the scan."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def next(self, form: str) -> str:
        n = f"1390635{len(self.issued):04d}"
        self.issued.append(n)
        return form.format(n=n, a=n[:3], b=n[3:7], c=n[7:])


def _fields(event: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    for key in event:
        if key != "data":
            yield (key,)
    for key in event["data"]:
        yield ("data", key)
    yield ("data", "note")  # an unknown field
    yield ("data", "a", "b", "c", "d", "e")  # nested deeper than the phone scan goes


def _set(event: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    target = event
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def seeded_lines(numbers: Numbers) -> list[bytes]:
    lines = []
    for example in EXAMPLES.values():
        for path in _fields(example):
            for form in FORMS:
                event = json.loads(json.dumps(example))
                event["event_id"] = str(uuid.uuid4())
                value = numbers.next(form)
                if form == "{n}" and path == ("volunteer_id",):
                    value = value.translate(FULL_WIDTH)
                _set(event, path, value)
                lines.append(json.dumps(event, ensure_ascii=False).encode())
        # JSON-escaped digits: the bytes hold no digit run, the decoded value does.
        event = json.loads(json.dumps(example))
        escaped = "".join(f"\\u{ord(c):04x}" for c in numbers.next("{n}"))
        raw = json.dumps({**event, "event_id": str(uuid.uuid4()), "team_id": "@@"})
        lines.append(raw.replace('"@@"', f'"t{escaped}"').encode())
    return lines


def _digit_runs(text: str) -> str:
    """Every run of digits separated by up to 4 non-alphanumeric characters, separators
    dropped, one per line: a number written in any form is a substring of one of them."""
    runs = re.findall(r"\d(?:[^0-9A-Za-z\n]{0,4}\d)*", text)
    return "\n".join(re.sub(r"\D", "", run) for run in runs)


def _normalized(text: str) -> str:
    """Full-width digits as ASCII and JSON escapes decoded, so neither hides a number."""
    text = text.translate({0xFF10 + i: ord("0") + i for i in range(10)})
    return re.sub(r"\\u00([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def test_no_phone_number_in_any_topic_or_table(isolated: Settings, tmp_path: Path) -> None:
    events, expect = tmp_path / "campaign.jsonl", tmp_path / "expected.json"
    assert frontline(
        isolated, "simulate", "--scale", "0.001", "--seed", "4", "--out", str(events),
        "--expect", str(expect),
    ).returncode == 0  # fmt: skip
    numbers = Numbers()
    seeded = seeded_lines(numbers)
    with events.open("ab") as out:
        out.write(b"\n".join(seeded) + b"\n")
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    emitted = frontline(isolated, "emit", str(events), "--allow-rejects", "--quiet")
    assert emitted.returncode == 0, emitted.stderr
    # The same lines straight into the event topic, as a broken producer would: the worker's
    # path, whose dead letters name Kafka coordinates.
    raw = KafkaProducer(bootstrap_servers=isolated.bootstrap_servers, acks="all")
    sent = [raw.send(events_topic(isolated), value=line) for line in seeded]
    raw.flush()
    bypassed = {(m.partition, m.offset) for m in (f.get(30) for f in sent)}
    raw.close()

    log = tmp_path / "worker.log"
    count_to_the_end(isolated, log)

    texts: list[str] = []
    raw_texts: list[str] = []
    for topic in (events_topic(isolated), dead_letter_topic(isolated)):
        for partition, offset, key, value in read_topic(isolated, topic, with_offsets=True):
            if topic == events_topic(isolated) and (partition, offset) in bypassed:
                raw_texts.append(value.decode("utf-8", "replace"))
                continue
            texts.append((key or b"").decode("utf-8", "replace"))
            texts.append(value.decode("utf-8", "replace"))
            if topic == dead_letter_topic(isolated):
                texts.append(read_dead_letter(value)["original"].decode("utf-8", "replace"))
    client = isolated.clickhouse.client()
    tables = client.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s AND engine != 'View'",
        {"db": isolated.clickhouse_database},
    )
    assert len(tables) >= 8
    for (table,) in tables:
        texts.extend(repr(row) for row in client.execute(f"SELECT * FROM `{table}`"))
    haystack = _digit_runs(_normalized("\n".join(texts)))
    dead = read_topic(isolated, dead_letter_topic(isolated))
    assert len(dead) >= 2 * len(seeded)  # each seeded line refused by emit and by the worker
    # The scan finds every number where it is: in the raw producer's own messages.
    in_raw = _digit_runs(_normalized("\n".join(raw_texts)))
    assert [n for n in numbers.issued if n not in in_raw] == []
    found = [n for n in numbers.issued if n in haystack]
    assert found == [], f"{len(found)} of {len(numbers.issued)} numbers stored in clear"
