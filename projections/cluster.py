"""The numbered migrations on a ClickHouse cluster (FRONTLINE_CLICKHOUSE_CLUSTER, docs/scaling.md).

The single-node schema stays the default. On a cluster every migration statement is rewritten
for each node, so the SQL files stay the one source of the schema:

- a table `T` becomes `T_local`, a Replicated* engine whose ZooKeeper path names its shard, the
  database and the table, plus `T` itself as a Distributed table over the cluster. Everything
  that reads or writes `T` (the worker, the views, replay, audit, the dashboard) is unchanged
  and sees the whole cluster;
- rows are placed by `kafka_partition` where a table has it, so the versions of one key of one
  topic-partition are always on one shard (argMax, ReplacingMergeTree and `FINAL` see them
  together); the sets without a partition (presence) are read with uniqExact/IN, which is exact
  whichever shard holds a row;
- a materialized view reads and writes the `_local` tables: it fires on the replica that took
  the insert, and replication (which does not fire views) copies its output to the others;
- ADD COLUMN goes to `T_local` (replicated by ZooKeeper to the shard's other replica) and to
  the Distributed `T`, where a MATERIALIZED column becomes an ALIAS of the same expression;
- views and DROP of views are created on every node unchanged.

Writes must reach the shard before the insert returns (`insert_distributed_sync=1`: the
worker's checkpoint is only written after its state is) and the views' IN subqueries over
Distributed tables need `distributed_product_mode=global`; `check_settings` refuses a cluster
whose users' profiles lack either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError

from projections.connection import ClickHouseTarget

CLUSTER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
LOCAL = "_local"

CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS `(?P<db>[^`]+)`\.(?P<table>\w+)\s*"
    r"\((?P<columns>.*)\)\s*ENGINE = (?P<engine>\w*MergeTree)\((?P<args>[^)]*)\)(?P<rest>.*)$",
    re.DOTALL,
)
ADD_COLUMN = re.compile(
    r"^ALTER TABLE `(?P<db>[^`]+)`\.(?P<table>\w+) ADD COLUMN (?P<column>\w+) (?P<rest>.*)$",
    re.DOTALL,
)
MATERIALIZED_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW ")

# What every node's session must have for the cluster schema to be exact (module docstring).
REQUIRED_SETTINGS = {
    "insert_distributed_sync": "1",
    "distributed_product_mode": "global",
    "load_balancing": "in_order",
}
SHARDS = """
SELECT shard_num, shard_weight, host_name, port FROM system.clusters
WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num
"""
SETTINGS = "SELECT name, value FROM system.settings WHERE name IN %(names)s"


class ClusterError(Exception):
    """The cluster is not configured as Frontline needs; the message says what to set."""


@dataclass(frozen=True)
class NodeStatement:
    """One statement for one node; `column` names the column an ADD COLUMN adds (the runner
    skips it where the column exists: the shard's other replica got it through ZooKeeper)."""

    sql: str
    table: str = ""
    column: str = ""


def nodes(target: ClickHouseTarget) -> list[ClickHouseTarget]:
    """Every server of the target's cluster, as the same user and database; [target] alone when
    no cluster is configured."""
    if not target.cluster:
        return [target]
    return [node for _, _, node in _servers(target)]


def _servers(target: ClickHouseTarget) -> list[tuple[int, int, ClickHouseTarget]]:
    """(shard, its weight, server) for every server of the cluster, shard by shard."""
    rows = target.client(database=False).execute(SHARDS, {"cluster": target.cluster})
    if not rows:
        raise ClusterError(
            f"FRONTLINE_CLICKHOUSE_CLUSTER={target.cluster!r}: the server at "
            f"{target.host}:{target.port} has no such cluster in <remote_servers> "
            "(SELECT DISTINCT cluster FROM system.clusters lists those it has)"
        )
    return [
        (int(shard), int(weight), replace(target, host=str(host), port=int(port), alt_hosts=""))
        for shard, weight, host, port in rows
    ]


def check_settings(node: ClickHouseTarget) -> None:
    """Refuse a node whose user profile lacks the settings the cluster schema relies on."""
    names = tuple(REQUIRED_SETTINGS)
    found = dict(node.client(database=False).execute(SETTINGS, {"names": names}))
    wrong = {k: v for k, v in REQUIRED_SETTINGS.items() if str(found.get(k)) != v}
    if wrong:
        have = ", ".join(f"{k}={found.get(k)}" for k in wrong)
        want = "".join(f"<{k}>{v}</{k}>" for k, v in wrong.items())
        raise ClusterError(
            f"ClickHouse {node.host}:{node.port}, user {node.user}: {have}; on a cluster the "
            f"profile of every Frontline user needs {want} in users.xml (docs/scaling.md)"
        )


def tables_of(statements: Iterable[str]) -> set[str]:
    """The tables the migrations create (they become `_local` + Distributed on a cluster)."""
    return {m["table"] for s in statements if (m := CREATE_TABLE.match(s))}


def rewrite(statement: str, cluster: str, tables: set[str]) -> list[NodeStatement]:
    """One migration statement as the statements to run on each node of `cluster`."""
    if create := CREATE_TABLE.match(statement):
        return _create_table(create, cluster)
    if add := ADD_COLUMN.match(statement):
        db, table, column, rest = add["db"], add["table"], add["column"], add["rest"]
        if table not in tables:
            raise ClusterError(f"ADD COLUMN to {table}, which no migration creates")
        local = f"ALTER TABLE `{db}`.{table}{LOCAL} ADD COLUMN {column} {rest}"
        # A MATERIALIZED column is computed where the row is stored; the Distributed table
        # has it as an ALIAS of the same expression, expanded in queries and never sent with
        # an insert (the shard refuses values for a MATERIALIZED column).
        rest_distributed = re.sub(r"\bMATERIALIZED\b", "ALIAS", rest, count=1)
        distributed = f"ALTER TABLE `{db}`.{table} ADD COLUMN {column} {rest_distributed}"
        return [
            NodeStatement(local, table + LOCAL, column),
            NodeStatement(distributed, table, column),
        ]
    if MATERIALIZED_VIEW.match(statement):
        return [NodeStatement(_to_local(statement, tables))]
    return [NodeStatement(statement)]


def _create_table(create: re.Match[str], cluster: str) -> list[NodeStatement]:
    db, table, columns = create["db"], create["table"], create["columns"]
    args = create["args"].strip()
    path = f"'/clickhouse/tables/{{shard}}/{db}/{table}', '{{replica}}'"
    engine = f"Replicated{create['engine']}({path}{', ' + args if args else ''})"
    local = (
        f"CREATE TABLE IF NOT EXISTS `{db}`.{table}{LOCAL}\n({columns})\n"
        f"ENGINE = {engine}{create['rest']}"
    )
    key = "kafka_partition" if re.search(r"^\s*kafka_partition\s", columns, re.M) else "rand()"
    distributed = (
        f"CREATE TABLE IF NOT EXISTS `{db}`.{table}\n({columns})\n"
        f"ENGINE = Distributed({cluster}, '{db}', '{table}{LOCAL}', {key})"
    )
    return [NodeStatement(local), NodeStatement(distributed)]


def _to_local(statement: str, tables: set[str]) -> str:
    """A materialized view's source and target tables -> their `_local` tables."""

    def local(match: re.Match[str]) -> str:
        name = match[2]
        return f"{match[1]}{name}{LOCAL}" if name in tables else match[0]

    return re.sub(r"(`[^`]+`\.)(\w+)\b", local, statement)


class ReplicasBehind(Exception):  # noqa: N818 - names the condition
    """A replica of a shard has not fetched every part written to the other one yet."""


REPLICATED = "SELECT table FROM system.replicas WHERE database = %(db)s ORDER BY table"
SYNC_TIMEOUT_S = 10


def shard_of(target: ClickHouseTarget, partition: int) -> list[ClickHouseTarget]:
    """The replicas of the shard that holds `partition`'s rows: the Distributed tables place
    a row by kafka_partition modulo the sum of the shards' weights, in shard order."""
    slots: list[int] = []
    replicas: dict[int, list[ClickHouseTarget]] = {}
    for shard, weight, node in _servers(target):
        if shard not in replicas:
            slots += [shard] * weight
            replicas[shard] = []
        replicas[shard].append(node)
    return replicas[slots[partition % len(slots)]]


def sync_replicas(
    target: ClickHouseTarget, partition: int, timeout_s: float = SYNC_TIMEOUT_S
) -> None:
    """Wait until every live replica of `partition`'s shard holds all parts written so far.

    A Distributed read may go to either replica, and each table replicates on its own: a
    replica could hold a new checkpoint before the counters it covers. Loading a partition's
    state from there would count wrongly from then on, so a load waits for the replicas
    (SYSTEM SYNC REPLICA). A replica that does not answer serves no reads and is skipped; one
    that cannot finish (its missing part is on a replica that is down) raises ReplicasBehind,
    which the worker retries."""
    for node in shard_of(target, partition):
        client = Client(
            host=node.host,
            port=node.port,
            user=node.user,
            password=node.password,
            database="system",
            connect_timeout=2,
            send_receive_timeout=timeout_s,
        )
        try:
            tables = client.execute(REPLICATED, {"db": node.database})
        except (NetworkError, OSError, EOFError):
            continue
        try:
            for (table,) in tables:
                client.execute(f"SYSTEM SYNC REPLICA `{node.database}`.`{table}`")
        except (SocketTimeoutError, ServerException, NetworkError, OSError, EOFError) as exc:
            # A timeout (the driver raises the builtin TimeoutError), or the node lost on the
            # way: retried, and a node that no longer answers is skipped then.
            raise ReplicasBehind(
                f"replica {node.host}:{node.port} of partition {partition}'s shard has not "
                f"fetched every part within {timeout_s:g} s ({str(exc).splitlines()[0]}); "
                "the part it misses may be on a replica that is down"
            ) from None
        finally:
            client.disconnect()
