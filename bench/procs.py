"""CPU time and peak memory of the processes a benchmark phase involves, read from /proc (no
sampling thread): the worker, the replay, Kafka's JVM and ClickHouse's server."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (all its threads, and children it waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3; utime, stime, cutime, cstime are fields 14-17.
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / _TICK


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most memory the process has held since start or since `reset_peak`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current RSS (Linux: write 5 to clear_refs). False where the
    kernel does not allow it; the peak then counts from the process's start."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def stack_pids() -> dict[str, int]:
    """Kafka's and ClickHouse's pids, from deploy/stack's pid files."""
    state = Path(os.environ.get("FRONTLINE_STATE_DIR", ROOT / ".state"))
    pids = {}
    for name, path in (
        ("kafka", state / "kafka" / "kafka.pid"),
        ("clickhouse", state / "clickhouse" / "clickhouse.pid"),
    ):
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            sys.exit(f"{name} is not running ({path}); start the stack: deploy/stack up")
        pids[name] = pid
    return pids


@dataclass
class Usage:
    """One process's share of a phase."""

    cpu_s: float
    peak_mib: float


class Meter:
    """CPU seconds and peak RSS of named processes between `start()` and `stop()`. A process
    added later (a worker started after `start()`) counts from its own start."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self._cpu0: dict[str, float] = {}
        self.usage: dict[str, Usage] = {}

    def start(self) -> Meter:
        for name, pid in self.pids.items():
            reset_peak(pid)
            self._cpu0[name] = cpu_seconds(pid)
        return self

    def add(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self._cpu0[name] = 0.0  # a new process: all its CPU is this phase's

    def stop(self) -> dict[str, Usage]:
        """Read every process now (call it while they still run)."""
        self.usage = {
            name: Usage(cpu_seconds(pid) - self._cpu0[name], peak_rss_mib(pid))
            for name, pid in self.pids.items()
        }
        return self.usage
