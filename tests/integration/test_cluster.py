"""Frontline on a cluster (deploy/cluster): 3 Kafka brokers, 2 shards x 2 replicas of
ClickHouse 18.16 with ZooKeeper, 3 workers. The smoke test that CI runs; the fault scenarios
are in test_cluster_faults.py (`make cluster-faults`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from projections import migrate, queries
from projections.cluster import ReplicasBehind, nodes, shard_of, sync_replicas
from projections.database import drop_database
from streams import topic_admin
from streams.settings import Settings
from streams.worker.lag import running_workers
from tests.integration.cluster_harness import (
    cluster_deployment,
    running_cluster,
    through,
    wait_replicas_equal,
)
from tests.integration.dashboard_server import dashboard
from tests.integration.harness import (
    assert_counts_exact,
    emit_campaign,
    frontline,
    start_worker,
    stop,
    wait_caught_up,
)


@pytest.fixture(scope="module")
def cluster_env() -> Iterator[dict[str, str]]:
    with running_cluster() as env:
        yield env


@pytest.fixture
def on_cluster(cluster_env: dict[str, str]) -> Iterator[Settings]:
    """A deployment beside the module's campaign (which holds the default database)."""
    with cluster_deployment(cluster_env, database="frontline_t1") as settings:
        yield settings


@dataclass(frozen=True)
class ClusterCampaign:
    settings: Settings
    expected: dict[str, Any]
    workers_seen: int  # running workers the group reported while they caught up


@pytest.fixture(scope="module")
def campaign_on_cluster(
    cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterCampaign]:
    """A campaign counted by three workers on the cluster; the tests after read it only."""
    work = tmp_path_factory.mktemp("cluster-campaign")
    with cluster_deployment(cluster_env) as s:
        expected = emit_campaign(s, work, seed=5)
        logs = [work / f"worker-{i}.log" for i in range(3)]
        workers = [start_worker(s, log) for log in logs]
        try:
            wait_caught_up(s, workers, logs[0], timeout=240)
            seen = running_workers(s)
        finally:
            for worker in workers:
                stop(worker)
        yield ClusterCampaign(s, expected, seen)


def test_a_campaign_through_three_workers_on_the_cluster_is_exact(
    campaign_on_cluster: ClusterCampaign,
) -> None:
    s, expected = campaign_on_cluster.settings, campaign_on_cluster.expected
    assert campaign_on_cluster.workers_seen == 3

    for topic in topic_admin.describe(s):
        assert (topic.replication, topic.configs["min.insync.replicas"]) == (3, "2"), topic
    servers = nodes(s.clickhouse)
    assert len(servers) == 4
    for node in servers:
        engines = dict(
            node.client().execute(
                "SELECT name, engine FROM system.tables WHERE database = %(db)s",
                {"db": s.clickhouse_database},
            )
        )
        assert engines["event_log"] == "Distributed"
        assert engines["event_log_local"] == "ReplicatedReplacingMergeTree"
        assert engines["presence_from_event_log"] == "MaterializedView"
        assert engines["totals"] == "View"

    # The same exact figures whichever node a dashboard asks.
    for node in servers:
        assert_counts_exact(through(s, node), expected)
    # Each shard holds a share of the events, both replicas of a shard the same rows.
    counts = wait_replicas_equal(s, "event_log")
    total = int(s.clickhouse.client().execute("SELECT count() FROM event_log")[0][0])
    assert counts[0] > 0
    assert counts[2] > 0
    assert counts[0] + counts[2] == total
    presence = wait_replicas_equal(s, "presence")
    assert presence[0] > 0
    assert presence[2] > 0


def test_the_auditors_commands_and_the_dashboard_work_unchanged_on_the_cluster(
    campaign_on_cluster: ClusterCampaign, tmp_path: Path
) -> None:
    s, expected = campaign_on_cluster.settings, campaign_on_cluster.expected
    into = s.clickhouse_database + "_replay"
    rebuilt = s.model_copy(update={"clickhouse_database": into})
    drop_database(rebuilt.clickhouse)
    try:
        done = frontline(s, "replay", "--into", into, "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
        assert_counts_exact(rebuilt, expected)
        equal = frontline(s, "audit", "--rebuilt", into)
        assert equal.returncode == 0, equal.stdout + equal.stderr
        assert "every table and view equal" in equal.stdout
        swap = frontline(s, "audit", "--rebuilt", into, "--swap")
        assert swap.returncode == 2, swap.stdout + swap.stderr
        assert "on the cluster frontline" in swap.stderr
    finally:
        drop_database(rebuilt.clickhouse)
    verified = frontline(s, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    daily = queries.run(s.dashboard, "daily_by_org")
    cell = dict(zip(daily.columns, daily.rows[0], strict=True))
    org, day = str(cell["org_id"]), str(cell["day"])
    traced = frontline(s, "trace", "--org", org, "--day", day, "--metric", "sampling_assists")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "= daily_by_org's sampling_assists" in traced.stdout
    query = frontline(s, "query", "totals")
    assert query.returncode == 0, query.stdout + query.stderr
    with dashboard(s, tmp_path) as (_, status, _, body):
        assert status == 200
        assert json.loads(body) == [expected["totals"]]


def test_rows_of_a_partition_live_on_its_shard_and_a_load_waits_for_its_replicas(
    on_cluster: Settings,
) -> None:
    s = on_cluster
    migrate.apply(s.clickhouse)
    insert = "INSERT INTO checkpoints (kafka_topic, kafka_partition, version, written_at_ms) VALUES"
    s.clickhouse.client().execute(insert, [("t", p, 10, 0) for p in range(6)])
    wait_replicas_equal(s, "checkpoints")
    count = "SELECT count() FROM checkpoints_local WHERE kafka_partition = %(p)s"
    for partition in range(6):
        holders = [
            (n.host, n.port)
            for n in nodes(s.clickhouse)
            if replace(n, cluster="").client().execute(count, {"p": partition})[0][0]
        ]
        assert holders == [(n.host, n.port) for n in shard_of(s.clickhouse, partition)]

    first, second = (replace(n, cluster="") for n in shard_of(s.clickhouse, 0))
    second.client().execute("SYSTEM STOP FETCHES checkpoints_local")
    try:
        first.client().execute(
            "INSERT INTO checkpoints_local (kafka_topic, kafka_partition, version, written_at_ms) "
            "VALUES",
            [("t", 0, 20, 0)],
        )
        # The second replica cannot have the new checkpoint: a load must not read from it.
        with pytest.raises(ReplicasBehind, match=f"{second.host}:{second.port}"):
            sync_replicas(s.clickhouse, 0, timeout_s=2)
    finally:
        second.client().execute("SYSTEM START FETCHES checkpoints_local")
    sync_replicas(s.clickhouse, 0)
    newest = "SELECT max(version) FROM checkpoints_local WHERE kafka_partition = 0"
    assert second.client().execute(newest)[0][0] == 20
