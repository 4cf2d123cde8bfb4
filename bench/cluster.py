"""`make bench-cluster`: catch-up with three workers on the local cluster (deploy/cluster)
against one worker on the single-node stack, in the same run, on the same campaign.

    make bench-cluster                          # scale 0.1 (573k messages)
    .venv/bin/python -m bench.cluster --scale 0.05 --rounds 2

Rounds alternate single / cluster so a slow moment of the shared box hits both. Each row: the
rate from the workers' start to the last checkpoint, CPU per message of every process (workers,
every broker, every ClickHouse server, ZooKeeper) and the totals against the oracle. Both stacks
share the same 2 cores: the cluster's figure shows what replication and distribution cost
here, not what three machines would do (docs/scaling.md). Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path

from bench.common import cpu_yardstick, delete_topics
from bench.procs import ROOT, stack_pids
from bench.suite import Phase, campaign, catch_up, say
from streams.settings import Settings

EXPORT = re.compile(r"^export (FRONTLINE_[A-Z_]+)=(.*)$")
DATABASE = "_t7"  # stack-allowed name on both the single stack and the cluster


def cluster_env() -> dict[str, str]:
    """The variables `deploy/cluster env` gives Frontline (the cluster must be up)."""
    out = subprocess.run(
        [str(ROOT / "deploy" / "cluster"), "env"], capture_output=True, text=True, check=True
    ).stdout
    return {m[1]: m[2] for line in out.splitlines() if (m := EXPORT.match(line))}


def cluster_settings(env: dict[str, str], **variables: str) -> Settings:
    """Settings for the cluster: `env` (cluster_env) over this process's environment without
    its FRONTLINE_* variables (they would point at the single stack), then `variables`."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("FRONTLINE_")}
    return Settings.from_env({**plain, **env, **variables})


def cluster_pids() -> dict[str, int]:
    """Every node of the local cluster, from deploy/cluster's pid files."""
    state = Path(os.environ.get("FRONTLINE_CLUSTER_STATE_DIR", ROOT / ".state" / "cluster"))
    pids = {}
    for pidfile in sorted(state.glob("*/*.pid")):
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            continue
        pids[pidfile.parent.name] = pid
    if not pids:
        raise SystemExit(f"no cluster node runs under {state}: deploy/cluster up")
    return pids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)

    work = ROOT / ".state" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    single_base = Settings.from_env()
    single_base = single_base.model_copy(
        update={"clickhouse_database": single_base.clickhouse_database + DATABASE}
    )
    cluster_base = cluster_settings(cluster_env())
    cluster_base = cluster_base.model_copy(
        update={"clickhouse_database": cluster_base.clickhouse_database + DATABASE}
    )
    single, messages, expected = campaign(single_base, args.scale, work)
    on_cluster, _, _ = campaign(cluster_base, args.scale, work)
    rows: list[tuple[str, Phase]] = []
    yardsticks = [cpu_yardstick()]
    try:
        for _ in range(args.rounds):
            rows.append(
                ("single node, 1 worker", catch_up(single, 1, messages, expected, stack_pids()))
            )
            rows.append(
                ("cluster, 3 workers", catch_up(on_cluster, 3, messages, expected, cluster_pids()))
            )
            yardsticks.append(cpu_yardstick())
    finally:
        delete_topics(single)
        delete_topics(on_cluster)
    ticks = " -> ".join(f"{y:.2f}" for y in yardsticks)
    say(f"\nscale {args.scale}: {messages:,} messages; CPU yardstick {ticks} s")
    say("| run | messages/s | CPU us/msg, all processes | workers | Kafka | ClickHouse | counts |")
    say("|---|---|---|---|---|---|---|")
    for name, phase in rows:
        workers = tuple(n for n in phase.usage if n.startswith("worker"))
        kafka = tuple(n for n in phase.usage if n.startswith("kafka"))
        ch = tuple(n for n in phase.usage if n.startswith(("clickhouse", "s1", "s2")))
        say(
            f"| {name} | {phase.rate:,.0f} | {phase.cpu_us():.1f} | {phase.cpu_us(workers):.1f} "
            f"| {phase.cpu_us(kafka):.1f} | {phase.cpu_us(ch):.1f} | {phase.note} |"
        )


if __name__ == "__main__":
    main()
