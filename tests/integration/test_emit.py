"""`frontline emit` against the real broker: counts read back, rejects, dead letters, exit codes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from events import EVENT_TYPES
from streams.cli import main
from streams.dead_letters import read_dead_letter
from streams.settings import Settings
from streams.topic_admin import ensure
from streams.topics import dead_letter_topic, events_topic
from tests.integration.ingest_helpers import event, invalid, line, read_topic


def _campaign(path: Path) -> tuple[Counter[str], list[bytes]]:
    """Events of every type, a duplicate, and three bad lines; returns expected counts."""
    expected: Counter[str] = Counter()
    lines = []
    for i, event_type in enumerate(list(EVENT_TYPES) * 5):
        payload = event(event_type, volunteer_id=f"vol-{i:06d}")
        lines.append(line(payload))
        expected[event_type] += 1
    lines.append(lines[0])  # a field app's resend: stored again, deduplicated downstream
    expected["volunteer.checked_in"] += 1
    bad = [line(invalid("phone_number")), b"{not json", line(invalid("unknown_type"))]
    lines[3:3] = bad
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # a trailing blank line is skipped
    return expected, bad


def test_emit_file_counts_rejects_and_dead_letters(isolated: Settings, tmp_path: Path) -> None:
    ensure(isolated)
    source = tmp_path / "campaign.jsonl"
    expected, bad = _campaign(source)
    env = {"FRONTLINE_TOPIC_PREFIX": isolated.topic_prefix}

    result = CliRunner().invoke(main, ["emit", "--quiet", str(source)], env=env)

    assert result.exit_code == 1, result.output  # lines were rejected
    assert f"{sum(expected.values())} accepted, 3 rejected, 0 not acknowledged" in result.output
    assert len(read_topic(isolated, events_topic(isolated))) == sum(expected.values())
    for event_type, count in expected.items():
        assert f"  {event_type}: {count} sent" in result.output

    rejects = [
        json.loads(x) for x in (tmp_path / "campaign.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["code"]) for r in rejects] == [
        (4, "phone_number"),
        (5, "malformed_json"),
        (6, "unknown_type"),
    ]

    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    by_line = {d["origin"]["line"]: d for d in letters}
    assert set(by_line) == {4, 5, 6}
    assert by_line[5]["original"] == bad[1]
    assert by_line[5]["origin"]["via"] == "emit"
    assert by_line[5]["origin"]["file"] == str(source)
    # The phone number itself never reaches Kafka, even in a dead letter.
    assert by_line[4]["code"] == "phone_number"
    assert b"138-0635-0000" not in by_line[4]["original"]
    assert b"#############" in by_line[4]["original"]


def test_emit_stdin_allow_rejects_and_clean_run(isolated: Settings, tmp_path: Path) -> None:
    ensure(isolated)
    env = {"FRONTLINE_TOPIC_PREFIX": isolated.topic_prefix}
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        data = line(event()) + b"\n" + b"[1]\n"
        allowed = runner.invoke(main, ["emit", "--allow-rejects", "-"], input=data, env=env)
        assert allowed.exit_code == 0, allowed.output
        assert Path("rejects.jsonl").exists()

        clean = runner.invoke(
            main, ["emit", "-", "--rejects", "none.jsonl"], input=line(event()), env=env
        )
        assert clean.exit_code == 0, clean.output
        assert not Path("none.jsonl").exists()
    assert len(read_topic(isolated, events_topic(isolated))) == 2


def test_an_800_kb_line_is_rejected_and_the_lines_after_it_are_sent(
    isolated: Settings, tmp_path: Path
) -> None:
    # Issue #11, finding 2: its dead letter was too big to send, emit died with a traceback.
    ensure(isolated)
    huge = event()
    huge["data"]["note"] = "z" * 800_000
    source = tmp_path / "huge.jsonl"
    source.write_bytes(b"\n".join([line(event()), line(huge), line(event()), line(event())]))
    env = {"FRONTLINE_TOPIC_PREFIX": isolated.topic_prefix}

    result = CliRunner().invoke(main, ["emit", "--quiet", str(source)], env=env)

    assert result.exit_code == 1, result.output  # a line was rejected; nothing failed
    assert "3 accepted, 1 rejected, 0 not acknowledged" in result.output
    assert len(read_topic(isolated, events_topic(isolated))) == 3
    letters = [read_dead_letter(v) for _, _, v in read_topic(isolated, dead_letter_topic(isolated))]
    assert [(d["code"], d["origin"]["line"], d["truncated"]) for d in letters] == [
        ("too_large", 2, True)
    ]
