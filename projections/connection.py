"""Where a ClickHouse server is and how to open a native-protocol client to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from clickhouse_driver import Client

# Database names are spliced into DDL (they cannot be bound as parameters), so they are held to
# a plain identifier; nothing else ever reaches SQL as text.
DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ClickHouseTarget:
    """A server (native protocol) and the database Frontline's tables live in."""

    host: str
    port: int
    user: str
    password: str
    database: str
    # FRONTLINE_CLICKHOUSE_CLUSTER: the <remote_servers> cluster the schema spans ('' = one
    # server; projections/cluster.py).
    cluster: str = ""
    # FRONTLINE_CLICKHOUSE_ALT_HOSTS: more servers (host:port,...) the client tries in turn
    # when this one does not answer (the other replicas of a cluster).
    alt_hosts: str = ""

    def __post_init__(self) -> None:
        if not DATABASE_NAME.match(self.database):
            raise ValueError(
                f"database name {self.database!r} must be letters, digits and _ (not first digit)"
            )
        if self.cluster and not DATABASE_NAME.match(self.cluster):
            raise ValueError(
                f"cluster name {self.cluster!r} must be letters, digits and _ (not first digit)"
            )

    def with_database(self, database: str) -> ClickHouseTarget:
        return replace(self, database=database)

    def client(self, *, database: bool = True, **settings: object) -> Client:
        """A new client; `database=False` for statements that run before the database exists
        (connected to `system`: a user restricted to its own databases may not open the
        server's `default` database, and every user may read `system`)."""
        return Client(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database if database else "system",
            connect_timeout=5,
            send_receive_timeout=60,
            settings=dict(settings),
            **({"alt_hosts": self.alt_hosts} if self.alt_hosts else {}),
        )

    def ping(self) -> None:
        """Raise the driver's error unless the server answers; the database need not exist."""
        self.client(database=False).execute("SELECT 1")

    def __repr__(self) -> str:  # never print the password
        return (
            f"ClickHouseTarget(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"database={self.database!r}, cluster={self.cluster!r})"
        )
