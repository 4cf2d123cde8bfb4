"""deploy/: the Docker Compose file cannot run here (no engine), so what can be checked without
one is checked: it parses, and it agrees with the local stack and with the settings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from projections.cluster import REQUIRED_SETTINGS
from streams.settings import ENV, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _stack_kafka_version() -> str:
    match = re.search(r"FRONTLINE_KAFKA_VERSION:-([0-9.]+)", (DEPLOY / "stack").read_text())
    assert match, "deploy/stack must default FRONTLINE_KAFKA_VERSION"
    return match.group(1)


def _substitute_defaults(value: str) -> str:
    # Compose's ${VAR:-default} with nothing set, as on a fresh machine.
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_kafka_versions_agree() -> None:
    version = _stack_kafka_version()
    image = _compose()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{version}", "compose and deploy/stack run different Kafkas"
    pom = ET.parse(DEPLOY / "kafka" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    assert pom.findtext("m:properties/m:kafka.version", namespaces=ns) == version


def test_worker_environment_is_valid_settings() -> None:
    env = _compose()["services"]["worker"]["environment"]
    assert set(env) <= set(ENV.values()), "compose sets a variable Settings does not read"
    assert {"FRONTLINE_KAFKA_BOOTSTRAP", "FRONTLINE_CLICKHOUSE_URL"} <= set(env)
    settings = Settings.from_env({k: _substitute_defaults(str(v)) for k, v in env.items()})
    assert settings.kafka_bootstrap == "kafka:19092"
    assert settings.clickhouse.host == "clickhouse"
    assert settings.clickhouse.user == "frontline"


def test_clickhouse_users_match_the_local_stack() -> None:
    compose = _compose()["services"]["clickhouse"]
    mounted = ET.parse(DEPLOY / "clickhouse" / "docker" / "frontline-users.xml").getroot()
    local = ET.parse(DEPLOY / "clickhouse" / "users.xml.in").getroot()
    for user in ("frontline", "dashboard"):
        assert mounted.find(f"users/{user}") is not None
        assert local.find(f"users/{user}") is not None
        password = mounted.find(f"users/{user}/password")
        assert password is not None
        assert password.get("from_env") in compose["environment"]
    for root in (mounted, local):
        assert root.findtext("profiles/dashboard/readonly") == "1"
        for user in ("frontline", "dashboard"):  # least privilege: their databases only
            assert root.find(f"users/{user}/allow_databases") is not None
    assert local.find("users/default") is None
    removed = mounted.find("users/default")
    assert removed is not None
    assert removed.get("remove") == "remove"
    assert compose["image"].startswith("clickhouse/clickhouse-server:")
    # Grafana's plugin sends max_execution_time: current releases refuse it from a read-only
    # user unless the setting is marked so (18.16, the local stack, ignores it).
    allowed = mounted.find("profiles/dashboard/constraints/max_execution_time")
    assert allowed is not None
    assert allowed.find("changeable_in_readonly") is not None


def test_local_server_config_renders_to_xml() -> None:
    text = (DEPLOY / "clickhouse" / "config.xml.in").read_text()
    rendered = re.sub(r"@[A-Z_]+@", "1", text)
    root = ET.fromstring(rendered)
    assert root.findtext("listen_host") == "127.0.0.1"


def test_dockerfile_copies_what_exists() -> None:
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_compose_worker_runs_an_existing_command() -> None:
    from streams.cli import load_all, main

    load_all()
    command = _compose()["services"]["worker"]["command"]
    assert command[0] in main.commands, (
        f"compose runs `frontline {command[0]}`, which does not exist"
    )


def test_the_layout_keeps_its_import_rules() -> None:
    """events imports nothing of ours; projections only events; ingest and worker not each
    other; audit builds on the worker, never the reverse; the dashboard on neither; nothing but
    the CLI (and tests) imports the CLI."""
    import ast

    def imports(path: Path) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        return found

    rules = {
        "events": ("projections", "streams"),
        "projections": ("streams",),
        "streams/ingest": ("streams.worker", "streams.cli"),
        "streams/worker": ("streams.ingest", "streams.audit", "streams.cli"),
        "streams/audit": ("streams.ingest", "streams.cli"),
        # The dashboard reads what the worker wrote, through projections; it writes nothing.
        "streams/dashboard": ("streams.ingest", "streams.worker", "streams.audit", "streams.cli"),
    }
    for folder, forbidden in rules.items():
        for path in (ROOT / folder).rglob("*.py"):
            for module in imports(path):
                assert not module.startswith(forbidden), f"{path} imports {module}"


CLUSTER_DIR = DEPLOY / "clickhouse" / "docker" / "cluster"


def _cluster_compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.cluster.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_the_cluster_variant_agrees_with_the_local_cluster_and_the_settings() -> None:
    services = _cluster_compose()["services"]
    version = _stack_kafka_version()
    brokers = [services[f"kafka-{i}"] for i in (1, 2, 3)]
    assert all(b["image"] == f"apache/kafka:{version}" for b in brokers)
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 3
    env = {k: _substitute_defaults(str(v)) for k, v in worker["environment"].items()}
    assert set(env) <= set(ENV.values()), "compose sets a variable Settings does not read"
    s = Settings.from_env(env)
    assert s.bootstrap_servers == ["kafka-1:19092", "kafka-2:19092", "kafka-3:19092"]
    assert (s.topic_replication, s.min_insync_replicas) == (3, 2)
    assert s.clickhouse.cluster == "frontline"
    servers = ["ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"]
    entry = s.clickhouse.host
    assert sorted([entry, *(h.split(":")[0] for h in s.clickhouse_alt_hosts.split(","))]) == servers

    config = ET.parse(CLUSTER_DIR / "cluster.xml").getroot()
    shards = config.findall(f"remote_servers/{s.clickhouse_cluster}/shard")
    assert [[r.findtext("host") for r in shard.findall("replica")] for shard in shards] == [
        servers[:2],
        servers[2:],
    ]
    assert all(shard.findtext("internal_replication") == "true" for shard in shards)
    for node in servers:
        macros = ET.parse(CLUSTER_DIR / f"node-{node.removeprefix('ch-')}.xml").getroot()
        assert macros.findtext("macros/replica") == node.removeprefix("ch-")
        assert macros.findtext("macros/shard") == ("01" if "s1" in node else "02")
        assert any("frontline-cluster-profiles.xml" in v for v in services[node]["volumes"])


def test_the_cluster_profiles_hold_what_migrate_requires() -> None:
    profiles = ET.parse(CLUSTER_DIR / "frontline-cluster-profiles.xml").getroot()
    local = (DEPLOY / "cluster").read_text()
    for name, value in REQUIRED_SETTINGS.items():
        assert profiles.findtext(f"profiles/default/{name}") == value, name
        assert f"<{name}>{value}</{name}>" in local, f"deploy/cluster does not set {name}"
    for name in ("distributed_product_mode", "load_balancing"):  # the dashboard's queries
        assert profiles.findtext(f"profiles/dashboard/{name}") == REQUIRED_SETTINGS[name]
