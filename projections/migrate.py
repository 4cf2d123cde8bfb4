"""Numbered SQL migrations, applied in order and recorded (with checksums) in ClickHouse.

A migration is `projections/migrations/NNNN_name.sql`: statements separated by `;` at the end
of a line, `{db}` standing for the (checked, quoted) database name. Statements are idempotent
(`IF NOT EXISTS`; ClickHouse 18.16 has none for ADD COLUMN, so `apply` skips an `ALTER TABLE
{db}.t ADD COLUMN c` whose column exists), so a run interrupted half-way is finished by the
next run. An applied migration must never be edited: `apply` refuses when a checksum differs
and names the file; write a new migration instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_driver import Client

from projections.cluster import NodeStatement, check_settings, nodes, rewrite, tables_of
from projections.connection import ClickHouseTarget
from projections.database import create_database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# The non-CREATE statement forms migrations may use; see `_already_applied` and `_drop`.
ADD_COLUMN = re.compile(r"^ALTER TABLE `(?P<db>[^`]+)`\.(?P<table>\w+) ADD COLUMN (?P<column>\w+) ")
COLUMN_EXISTS = """
SELECT count() FROM system.columns
WHERE database = %(db)s AND table = %(table)s AND name = %(column)s
"""
# A view is replaced by dropping it (18.16 has no DROP VIEW, nor CREATE OR REPLACE VIEW).
DROP = re.compile(r"^DROP TABLE IF EXISTS `(?P<db>[^`]+)`\.(?P<table>\w+)$")
ENGINE_OF = "SELECT engine FROM system.tables WHERE database = %(db)s AND name = %(table)s"

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime
)
ENGINE = MergeTree()
ORDER BY version
"""


class MigrationError(Exception):
    """The schema cannot be brought up to date safely; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    def statements(self, database: str) -> list[str]:
        return render(self.sql, database)


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None
    edited: bool


def render(sql: str, database: str) -> list[str]:
    """Split a migration into statements with `{db}` replaced by the quoted database name."""
    quoted = f"`{database}`"
    out = []
    for chunk in re.split(r";\s*$", sql, flags=re.MULTILINE):
        code = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--"))
        if code.strip():
            out.append(code.strip().replace("{db}", quoted))
    return out


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or MIGRATIONS_DIR
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}: {versions}")
    return migrations


def status(target: ClickHouseTarget, directory: Path | None = None) -> list[MigrationState]:
    """Each migration and whether it is applied; on a cluster, applied means on every node."""
    migrations = load_migrations(directory)
    ledgers = [_ledger(node) for node in nodes(target)]
    states = []
    for m in migrations:
        found = [ledger[m.version] for ledger in ledgers if m.version in ledger]
        if len(found) < len(ledgers):
            states.append(MigrationState(m, None, edited=any(c != m.checksum for c, _ in found)))
        else:
            at = max(t for _, t in found)
            states.append(MigrationState(m, at, edited=any(c != m.checksum for c, _ in found)))
    return states


def apply(
    target: ClickHouseTarget,
    *,
    auto_close_s: int | None = None,
    directory: Path | None = None,
) -> list[Migration]:
    """Apply pending migrations in order; return those applied. Refuses on edited ones.

    On a cluster each migration is applied on every node before the next one (a replica that
    joins an altered table must be created with the same columns), as `cluster.rewrite` puts it.
    `auto_close_s` records the shift auto-close limit; None leaves it as it is (16 h if never set).
    """
    migrations = load_migrations(directory)
    all_nodes = nodes(target)
    if target.cluster:
        for node in all_nodes:
            check_settings(node)
    ledgers = [_ledger(node) for node in all_nodes]
    edited = sorted({m.filename for m in migrations for ledger in ledgers if _edited(m, ledger)})
    if edited:
        raise MigrationError(
            f"applied migration(s) were edited since: {', '.join(edited)}. Revert the edit and "
            "put the change in a new migration file."
        )
    tables = tables_of(s for m in migrations for s in m.statements(target.database))
    done = []
    for m in migrations:
        pending = [
            n for n, ledger in zip(all_nodes, ledgers, strict=True) if m.version not in ledger
        ]
        for node in pending:
            client = node.client()
            for statement in m.statements(target.database):
                for each in _for_node(statement, target.cluster, tables):
                    _refuse_dropping_data(client, each.sql, m)
                    if not _already_applied(client, each, node.database):
                        client.execute(each.sql)
            client.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES",
                [(m.version, m.name, m.checksum, datetime.now(UTC).replace(tzinfo=None))],
            )
        if pending:
            done.append(m)
    if auto_close_s is not None:
        set_auto_close(target, auto_close_s)
    return done


def _ledger(node: ClickHouseTarget) -> dict[int, tuple[str, datetime]]:
    """version -> (checksum, applied_at) of the migrations one server has recorded. The ledger
    is each server's own table (not replicated): a node knows what it has applied."""
    create_database(replace(node, cluster=""))
    client = node.client()
    client.execute(LEDGER_DDL.replace("{db}", f"`{node.database}`"))
    return {
        int(v): (str(c), t)
        for v, c, t in client.execute(
            "SELECT version, argMax(checksum, applied_at), max(applied_at) "
            "FROM schema_migrations GROUP BY version"
        )
    }


def _edited(m: Migration, ledger: dict[int, tuple[str, datetime]]) -> bool:
    return m.version in ledger and ledger[m.version][0] != m.checksum


def _for_node(statement: str, cluster: str, tables: set[str]) -> list[NodeStatement]:
    if cluster:
        return rewrite(statement, cluster, tables)
    add = ADD_COLUMN.match(statement)
    return [
        NodeStatement(statement, add["table"], add["column"]) if add else NodeStatement(statement)
    ]


def replaced_materialized_views(
    target: ClickHouseTarget, directory: Path | None = None
) -> list[str]:
    """The existing materialized views that pending migrations drop and create again. Between
    the two statements an insert into their source derives nothing (0007 replaces the one that
    fills `presence`): run those migrations with the workers stopped."""
    client = target.client()
    found = []
    for state in status(target, directory):
        if state.applied_at is not None:
            continue
        for statement in state.migration.statements(target.database):
            drop = DROP.match(statement)
            if drop is None:
                continue
            engines = client.execute(ENGINE_OF, drop.groupdict())
            if engines and engines[0][0] == "MaterializedView":
                found.append(drop["table"])
    return found


def _already_applied(client: Client, statement: NodeStatement, database: str) -> bool:
    """An ADD COLUMN whose column exists: the run that added it stopped before recording, or
    (on a cluster) the shard's other replica added it through ZooKeeper."""
    if not statement.column:
        return False
    found = {"db": database, "table": statement.table, "column": statement.column}
    return int(client.execute(COLUMN_EXISTS, found)[0][0]) > 0


def _refuse_dropping_data(client: Client, statement: str, m: Migration) -> None:
    """A migration drops views (to replace them), never a table that holds data."""
    drop = DROP.match(statement)
    if drop is None:
        return
    engines = client.execute(ENGINE_OF, drop.groupdict())
    if engines and engines[0][0] not in ("View", "MaterializedView"):
        raise MigrationError(
            f"{m.filename} drops {drop['table']}, which is a {engines[0][0]} table, not a view: "
            "its data would be lost. Fix the migration (only views are replaced)."
        )


def set_auto_close(target: ClickHouseTarget, seconds: int) -> None:
    """Record the shift auto-close limit the views apply at query time."""
    version = int(datetime.now(UTC).timestamp() * 1_000_000)
    target.client().execute(
        "INSERT INTO shift_policy (key, auto_close_s, version) VALUES", [(0, seconds, version)]
    )
