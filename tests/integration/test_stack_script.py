"""deploy/stack: idempotent `up`, clear refusal of a taken port, stale pid files handled."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

STACK = Path(__file__).resolve().parents[2] / "deploy" / "stack"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STACK), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_second_up_is_harmless_and_status_shows_both_answering() -> None:
    up = _run("up")
    assert up.returncode == 0, up.stderr
    assert "kafka already running" in up.stdout
    assert "clickhouse already running" in up.stdout
    status = _run("status")
    assert status.returncode == 0, status.stdout
    assert "kafka       up" in status.stdout
    assert "clickhouse  up" in status.stdout


def test_taken_port_is_named_with_its_holder(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = _run(
            "up",
            env={
                "FRONTLINE_STATE_DIR": str(tmp_path),
                "FRONTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
            },
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr
    assert f"(pid {os.getpid()})" in result.stderr  # the holder is named: this test
    assert not (tmp_path / "kafka" / "kafka.pid").exists()


def test_stale_pid_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "clickhouse").mkdir()
    # pid 1 is alive but not ours; a huge pid is not alive at all.
    (tmp_path / "kafka" / "kafka.pid").write_text("1\n")
    (tmp_path / "clickhouse" / "clickhouse.pid").write_text("4194000\n")
    result = _run("status", env={"FRONTLINE_STATE_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "kafka       down" in result.stdout
    assert "clickhouse  down" in result.stdout
    assert not (tmp_path / "kafka" / "kafka.pid").exists()
    assert not (tmp_path / "clickhouse" / "clickhouse.pid").exists()


def test_bad_configuration_names_the_variable(tmp_path: Path) -> None:
    result = _run(
        "up",
        env={"FRONTLINE_STATE_DIR": str(tmp_path), "FRONTLINE_CLICKHOUSE_URL": "http://x"},
    )
    assert result.returncode != 0
    assert "FRONTLINE_CLICKHOUSE_URL" in result.stderr
