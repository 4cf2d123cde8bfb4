"""`frontline validate` reports exactly the fixtures' codes; `simulate` and `schema export` run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from events import REJECTION_CODES
from streams.cli import main
from tests.fixtures import all_fixtures, load


def _jsonl(tmp_path: Path) -> tuple[Path, list[str]]:
    fixtures = all_fixtures()
    path = tmp_path / "fixtures.jsonl"
    path.write_bytes(b"".join(f.wire + b"\n" for f in fixtures))
    return path, [f.expect for f in fixtures]


def test_validate_reports_each_fixture_code(tmp_path: Path) -> None:
    path, expected = _jsonl(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    verdicts = [line.split(": ")[1].split(" ")[0] for line in lines[:-1]]
    assert verdicts == expected
    assert lines[-1].startswith(f"{len(expected)} lines: 8 ok, {len(REJECTION_CODES)} invalid (")
    for code in REJECTION_CODES:
        assert f"{code}: 1" in lines[-1]


def test_validate_never_echoes_the_phone_number(tmp_path: Path) -> None:
    path, _ = _jsonl(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert "0635" not in result.output.replace("0635-8221234", "")  # fixture uses 138-0635-0000
    assert "138-0635-0000" not in result.output


def test_validate_stdin_all_valid_exits_zero() -> None:
    data = b"".join(f.wire + b"\r\n" for f in load("valid")) + b"\n   \n"
    result = CliRunner().invoke(main, ["validate", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "8 lines: 8 ok, 0 invalid"


def test_validate_quiet_prints_only_problems(tmp_path: Path) -> None:
    path, _ = _jsonl(tmp_path)
    result = CliRunner().invoke(main, ["validate", "--quiet", str(path)])
    assert len(result.output.splitlines()) == len(REJECTION_CODES) + 1
    assert " ok " not in result.output


def test_validate_max_bytes_option(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(load("valid")[0].wire + b"\n")
    result = CliRunner().invoke(main, ["validate", "--max-bytes", "100", str(path)])
    assert result.exit_code == 1
    assert "1: too_large:" in result.output


def test_simulate_command_writes_both_files(tmp_path: Path) -> None:
    out, expect = tmp_path / "events.jsonl", tmp_path / "expected.json"
    args = ["simulate", "--scale", "0.002", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--expect", str(expect)])
    assert result.exit_code == 0, result.output
    document = json.loads(expect.read_text())
    assert document["meta"]["lines"] == len(out.read_bytes().splitlines())
    assert f"{document['meta']['lines']:,} lines" in result.output
    check = CliRunner().invoke(main, ["validate", "--quiet", str(out)])
    assert check.exit_code == 1
    assert f"{document['meta']['invalid']} invalid" in check.output.splitlines()[-1]


def test_simulate_rejects_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--scenario", "nowhere", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
