"""`frontline topics ensure|describe` against the real broker."""

from __future__ import annotations

from click.testing import CliRunner
from kafka.admin import KafkaAdminClient

from streams.cli import main
from streams.settings import Settings
from streams.topic_admin import DEAD_LETTER_RETENTION_MS, describe, ensure
from streams.topics import dead_letter_topic, events_topic


def test_ensure_creates_every_topic_as_declared_and_is_idempotent(isolated: Settings) -> None:
    settings = isolated.model_copy(update={"topic_partitions": 3})
    first = ensure(settings)
    names = {s.spec.name for s in first}
    assert names == {events_topic(settings), dead_letter_topic(settings)}
    assert all(s.created and s.exists and not s.drift for s in first)
    for state in first:
        assert state.partitions == 3
        if state.spec.name == dead_letter_topic(settings):
            assert state.configs["retention.ms"] == str(DEAD_LETTER_RETENTION_MS)
        else:  # the event store keeps everything
            assert state.configs["retention.ms"] == "-1"
            assert state.configs["retention.bytes"] == "-1"

    second = ensure(settings)
    assert not any(s.created or s.drift for s in second)


def test_drift_is_reported_and_configs_can_be_fixed(isolated: Settings) -> None:
    shifts = events_topic(isolated)
    admin = KafkaAdminClient(bootstrap_servers=isolated.bootstrap_servers)
    try:  # a topic made by hand with a 1-hour retention and too few partitions
        admin.create_topics(
            {
                shifts: {
                    "num_partitions": 2,
                    "replication_factor": 1,
                    "configs": {"retention.ms": "3600000"},
                }
            },
            wait_for_metadata=True,
        )
    finally:
        admin.close()

    states = {s.spec.name: s for s in ensure(isolated)}
    drift = states[shifts].drift
    assert any("partitions 2 (declared 6)" in d for d in drift)
    assert any("retention.ms=3600000 (declared -1)" in d for d in drift)
    assert not states[shifts].created

    fixed = {s.spec.name: s for s in ensure(isolated, fix=True)}[shifts]
    assert fixed.fixed == ["retention.ms"]
    after = {s.spec.name: s for s in describe(isolated)}[shifts]
    assert after.configs["retention.ms"] == "-1"
    assert after.drift == ["partitions 2 (declared 6)"]  # never changed automatically


def test_cli_ensure_then_describe(isolated: Settings) -> None:
    env = {"FRONTLINE_TOPIC_PREFIX": isolated.topic_prefix}
    runner = CliRunner()
    missing = runner.invoke(main, ["topics", "describe"], env=env)
    assert missing.exit_code == 1
    assert "MISSING" in missing.output

    created = runner.invoke(main, ["topics", "ensure"], env=env)
    assert created.exit_code == 0, created.output
    assert created.output.count("(created)") == 2

    shown = runner.invoke(main, ["topics", "describe"], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"{events_topic(isolated)}  partitions=6 replication=1 retention.ms=-1" in (shown.output)
