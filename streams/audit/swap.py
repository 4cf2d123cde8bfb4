"""`frontline audit --swap`: promote a rebuilt projection to live, tables exchanged by name.

One RENAME statement exchanges every projection table of the two databases (18.16 has no
EXCHANGE TABLES; current releases do, atomically, in Atomic databases). Dashboards keep
reading throughout; the views and the materialized view find the new tables by name. Workers
must not run meanwhile: one holds its partitions' state in memory and would write it into the
promoted tables, so the swap refuses while the worker group has members; started again, the
workers load the promoted state and resume from its checkpoints.
"""

from __future__ import annotations

from projections.audit import SWAPPED_TABLES
from projections.replays import read_plan
from projections.store import StateStore
from streams.settings import ConfigError, Settings
from streams.topics import worker_group
from streams.worker.lag import running_workers


def swap(settings: Settings, rebuilt: str) -> str:
    """Exchange the projection tables of the live database (settings') and `rebuilt`."""
    live = settings.clickhouse_database
    if settings.clickhouse_cluster:
        # A replicated table keeps the ZooKeeper path of the database it was made in: renamed
        # into the other database, it would collide with the next replay made under that name.
        raise ConfigError(
            f"--swap is for one server; on the cluster {settings.clickhouse_cluster}, point "
            f"FRONTLINE_CLICKHOUSE_DATABASE at the verified rebuild ({rebuilt}) instead and "
            "restart the workers and the dashboard (docs/scaling.md)"
        )
    if rebuilt == live:
        raise ConfigError(f"--rebuilt {rebuilt} is the live database; nothing to swap")
    members = running_workers(settings)
    if members:
        raise ConfigError(
            f"{members} worker(s) of {live} are running (group {worker_group(settings)}): stop "
            "them, swap, then start them again (dashboards keep reading meanwhile)"
        )
    target = settings.clickhouse.with_database(rebuilt)
    client = target.client()
    try:
        plan = read_plan(client)
        if plan is None:
            raise ConfigError(f"{rebuilt} holds no replay (`frontline replay --into {rebuilt}`)")
        if plan.from_ms or plan.to_ms or plan.org_id:
            raise ConfigError(
                f"{rebuilt} is a partial replay (--from/--to/--org): only a full one may go live"
            )
        done = StateStore(target).checkpoints()
        behind = [
            p
            for p in plan.partitions
            if p.size and done.get((p.topic, p.partition), -1) < p.end - 1
        ]
        if behind:
            first = behind[0]
            raise ConfigError(
                f"the replay into {rebuilt} is not finished ({first.topic}[{first.partition}] "
                f"and {len(behind) - 1} more): run `frontline replay --into {rebuilt}` again"
            )
        renames = []
        for table in SWAPPED_TABLES:
            renames += [
                f"`{live}`.{table} TO `{rebuilt}`.{table}_swapping",
                f"`{rebuilt}`.{table} TO `{live}`.{table}",
                f"`{rebuilt}`.{table}_swapping TO `{rebuilt}`.{table}",
            ]
        client.execute("RENAME TABLE " + ", ".join(renames))
    finally:
        client.disconnect()
    return (
        f"{live} now holds the rebuilt projection, {rebuilt} the one it replaced (drop it once "
        "satisfied); start the workers: they resume from the promoted checkpoints"
    )
