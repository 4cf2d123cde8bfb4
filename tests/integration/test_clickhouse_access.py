"""Least privilege in ClickHouse (issue #11, finding 5): no password-less `default` admin; the
writer and the dashboard user reach only the databases the stack lists, so neither can read,
create or drop another deployment's database; the dashboard user cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from projections import migrate
from streams.settings import Settings
from tests.integration.servers import ThrowawayClickHouse

DENIED = 291  # DATABASE_ACCESS_DENIED
UNKNOWN_USER = 192
READONLY = 164


def _code(client: Client, query: str) -> int:
    with pytest.raises(ServerException) as err:
        client.execute(query)
    return int(err.value.code)


def test_the_local_stack_has_no_default_admin(stack_settings: Settings) -> None:
    ch = stack_settings.clickhouse
    nobody = Client(host=ch.host, port=ch.port, user="default", password="")
    with pytest.raises(ServerException) as err:
        nobody.execute("SELECT 1")
    assert err.value.code in (UNKNOWN_USER, 516)  # 516: AUTHENTICATION_FAILED, newer servers


def test_the_writer_cannot_create_an_unlisted_database(isolated: Settings) -> None:
    # Dropping an existing one: test_another_deployments_database_is_out_of_reach.
    writer = isolated.clickhouse.client()
    assert _code(writer, "CREATE DATABASE another_deployment") == DENIED
    writer.execute("CREATE TABLE IF NOT EXISTS probe (x UInt8) ENGINE = Memory")  # its own: yes


def test_the_dashboard_user_reads_and_never_writes(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)
    dashboard = isolated.dashboard.client()
    assert dashboard.execute("SELECT count() FROM totals") == [(1,)]
    assert _code(dashboard, "INSERT INTO shift_policy (key) VALUES (1)") == READONLY
    assert _code(dashboard, "CREATE DATABASE x_dashboard") in (READONLY, DENIED)


def test_another_deployments_database_is_out_of_reach(tmp_path: Path) -> None:
    # The stack's own users template on a server of its own: deployment `a` and, beside it,
    # deployment `b`'s database (made while both were listed, as by b's own writer).
    server = ThrowawayClickHouse(tmp_path, ["a", "b"])
    server.start()
    try:
        writer_of = Client(
            host="127.0.0.1", port=server.native_port, user="frontline",
            password=server.WRITER_PASSWORD,
        )  # fmt: skip
        for db in ("a", "b"):
            writer_of.execute(f"CREATE DATABASE {db}")
            writer_of.execute(f"CREATE TABLE {db}.event_log (volunteer_id String) ENGINE = Memory")
        writer_of.disconnect()
        server.stop()
        server.allow(["a"])  # users of deployment a only
        server.start()
        writer = Client(
            host="127.0.0.1", port=server.native_port, user="frontline",
            password=server.WRITER_PASSWORD,
        )  # fmt: skip
        dashboard = Client(
            host="127.0.0.1", port=server.native_port, user="dashboard",
            password=server.DASHBOARD_PASSWORD,
        )  # fmt: skip
        assert _code(dashboard, "SELECT * FROM b.event_log") == DENIED
        assert _code(writer, "SELECT * FROM b.event_log") == DENIED
        assert _code(writer, "DROP DATABASE b") == DENIED
        assert _code(writer, "DROP TABLE b.event_log") == DENIED
        assert ("b",) not in dashboard.execute("SHOW DATABASES")
        assert dashboard.execute("SELECT count() FROM a.event_log") == [(0,)]
    finally:
        server.stop()
