"""The stack is real and usable from every client Frontline uses."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import chdb
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from clickhouse_driver.errors import ServerException
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from projections.database import list_databases
from streams.settings import Settings

# The smoke table uses the features later migrations rely on, on both engines.
SMOKE_DDL = """
CREATE TABLE IF NOT EXISTS {db}.smoke
(
    event_id UUID,
    day Date,
    org_id String,
    n UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, event_id)
"""


def _create_topic(settings: Settings, name: str, partitions: int = 3) -> str:
    topic = settings.topic(name)
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs={"retention.ms": "-1"})])
    finally:
        admin.close()
    return topic


def test_kafka_python_produces_and_consumes(isolated: Settings) -> None:
    topic = _create_topic(isolated, "smoke-kp")
    producer = KafkaProducer(bootstrap_servers=isolated.bootstrap_servers, acks="all")
    sent = {f"m{i}".encode() for i in range(50)}
    for value in sent:
        producer.send(topic, key=value, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=isolated.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=f"{isolated.topic_prefix}smoke",
    )
    received = {m.value for m in consumer}
    consumer.close()
    assert received == sent


def test_aiokafka_produces_and_consumes(isolated: Settings) -> None:
    topic = _create_topic(isolated, "smoke-aio")

    async def run() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(50):
                await producer.send_and_wait(topic, f"a{i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=isolated.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"{isolated.topic_prefix}smoke-aio",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < 50:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), timeout=10)
                got.extend(m.value for msgs in batch.values() for m in msgs if m.value)
        finally:
            await consumer.stop()
        return got

    # One key -> one partition -> order kept.
    assert asyncio.run(run()) == [f"a{i}".encode() for i in range(50)]


def test_clickhouse_writes_and_reads_in_own_database(isolated: Settings) -> None:
    ch = isolated.clickhouse
    client = ch.client()
    client.execute(SMOKE_DDL.format(db=f"`{ch.database}`"))
    rows = [
        (uuid.uuid4(), date(2022, 3, 17), "org-0001", 3, 1),
        (uuid.uuid4(), date(2022, 3, 18), "org-0002", 4, 1),
    ]
    client.execute("INSERT INTO smoke (event_id, day, org_id, n, version) VALUES", rows)
    assert client.execute("SELECT org_id, sum(n) FROM smoke GROUP BY org_id ORDER BY org_id") == [
        ("org-0001", 3),
        ("org-0002", 4),
    ]
    assert ch.database in list_databases(ch)


def test_dashboard_user_cannot_write(isolated: Settings) -> None:
    ch = isolated.clickhouse
    ch.client().execute(SMOKE_DDL.format(db=f"`{ch.database}`"))
    reader = isolated.dashboard
    assert reader.client().execute("SELECT count() FROM smoke") == [(0,)]
    with pytest.raises(ServerException, match=r"(?i)readonly"):
        reader.client().execute("INSERT INTO smoke (org_id) VALUES", [("x",)])


def test_same_ddl_runs_on_current_clickhouse_via_chdb() -> None:
    session = chdb.session.Session()
    try:
        session.query("CREATE DATABASE IF NOT EXISTS smoke_db")
        session.query(SMOKE_DDL.format(db="smoke_db"))
        session.query(
            "INSERT INTO smoke_db.smoke VALUES (generateUUIDv4(), '2022-03-17', 'org-0001', 3, 1)"
        )
        out = session.query("SELECT org_id, sum(n) FROM smoke_db.smoke GROUP BY org_id", "CSV")
        assert str(out).strip() == '"org-0001",3'
    finally:
        session.close()


def test_two_deployments_do_not_see_each_other(
    isolated: Settings, stack_settings: Settings
) -> None:
    other = stack_settings.model_copy(
        update={
            "topic_prefix": "other." + isolated.topic_prefix,
            "clickhouse_database": "x" + isolated.clickhouse_database,
        }
    )
    _create_topic(isolated, "events")
    admin = KafkaAdminClient(bootstrap_servers=isolated.bootstrap_servers)
    try:
        topics = admin.list_topics()
    finally:
        admin.close()
    assert isolated.topic("events") in topics
    assert other.topic("events") not in topics
    assert other.clickhouse.database not in list_databases(isolated.clickhouse)
