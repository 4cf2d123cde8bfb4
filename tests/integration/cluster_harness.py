"""The local cluster (deploy/cluster) for the cluster tests: started if it is not running,
stopped afterwards only if the test started it."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from bench.cluster import cluster_env, cluster_settings
from projections.cluster import nodes
from projections.connection import ClickHouseTarget
from projections.database import drop_database
from streams import topic_admin
from streams.settings import Settings
from tests.integration.harness import ROOT

CLUSTER = ROOT / "deploy" / "cluster"
DATABASE = "frontline_t0"  # the cluster's own servers: no other test uses them


def cluster(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`deploy/cluster ARGS`, its output captured."""
    return subprocess.run(
        [str(CLUSTER), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def running_cluster() -> Iterator[dict[str, str]]:
    """The cluster up; yields the variables `deploy/cluster env` gives Frontline."""
    was_up = cluster("status").returncode == 0
    up = cluster("up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield cluster_env()
    finally:
        if not was_up:
            down = cluster("down")
            assert down.returncode == 0, down.stdout + down.stderr


@contextmanager
def cluster_deployment(env: dict[str, str], database: str = DATABASE) -> Iterator[Settings]:
    """Settings for the cluster with a topic prefix of the test's own and a fresh database,
    both removed afterwards."""
    settings = cluster_settings(
        env,
        FRONTLINE_TOPIC_PREFIX=f"test.{uuid.uuid4().hex[:10]}.",
        FRONTLINE_CLICKHOUSE_DATABASE=database,
    )
    drop_database(settings.clickhouse)
    try:
        yield settings
    finally:
        drop_database(settings.clickhouse)
        topic_admin.delete_all(settings)


def through(settings: Settings, node: ClickHouseTarget) -> Settings:
    """The same settings, entering the ClickHouse cluster at another node."""
    url = f"clickhouse://{node.user}:{node.password}@{node.host}:{node.port}"
    return settings.model_copy(update={"clickhouse_url": url})


def local_counts(settings: Settings, table: str) -> list[int]:
    """Rows of `table`_local on each node (shard by shard, replica by replica)."""
    out = []
    for node in nodes(settings.clickhouse):
        plain = replace(node, cluster="")
        out.append(int(plain.client().execute(f"SELECT count() FROM {table}_local")[0][0]))
    return out


def wait_replicas_equal(settings: Settings, table: str, timeout: float = 120) -> list[int]:
    """Until both replicas of each shard hold the same number of rows of `table`."""
    deadline = time.monotonic() + timeout
    while True:
        counts = local_counts(settings, table)
        pairs = list(zip(counts[::2], counts[1::2], strict=True))
        if all(a == b for a, b in pairs):
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"replicas of {table} still differ after {timeout}s: {counts}")
        time.sleep(0.5)
