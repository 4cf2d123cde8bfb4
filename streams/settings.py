"""One settings object, read from the environment by pydantic-settings (README,
"Configuration"): field `x` is FRONTLINE_X.

Every failure names the variable to fix. Two deployments with different
`FRONTLINE_TOPIC_PREFIX` and `FRONTLINE_CLICKHOUSE_DATABASE` share nothing.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.parse
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from projections.connection import DATABASE_NAME, ClickHouseTarget

PREFIX = "FRONTLINE_"
# Field -> its variable (PREFIX + the field's name in capitals), for messages and child processes.
ENV = {
    "kafka_bootstrap": "FRONTLINE_KAFKA_BOOTSTRAP",
    "kafka_security_protocol": "FRONTLINE_KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "FRONTLINE_KAFKA_SASL_MECHANISM",
    "kafka_username": "FRONTLINE_KAFKA_USERNAME",
    "kafka_password": "FRONTLINE_KAFKA_PASSWORD",
    "kafka_ca_file": "FRONTLINE_KAFKA_CA_FILE",
    "topic_prefix": "FRONTLINE_TOPIC_PREFIX",
    "clickhouse_url": "FRONTLINE_CLICKHOUSE_URL",
    "clickhouse_database": "FRONTLINE_CLICKHOUSE_DATABASE",
    "clickhouse_cluster": "FRONTLINE_CLICKHOUSE_CLUSTER",
    "clickhouse_alt_hosts": "FRONTLINE_CLICKHOUSE_ALT_HOSTS",
    "dashboard_password": "FRONTLINE_DASHBOARD_PASSWORD",
    "topic_partitions": "FRONTLINE_TOPIC_PARTITIONS",
    "topic_replication": "FRONTLINE_TOPIC_REPLICATION",
    "topic_min_insync_replicas": "FRONTLINE_TOPIC_MIN_INSYNC_REPLICAS",
    "http_host": "FRONTLINE_HTTP_HOST",
    "http_port": "FRONTLINE_HTTP_PORT",
    "dashboard_port": "FRONTLINE_DASHBOARD_PORT",
    "ingest_rate_limit": "FRONTLINE_INGEST_RATE_LIMIT",
    "token_file": "FRONTLINE_TOKEN_FILE",
    "auto_close_hours": "FRONTLINE_AUTO_CLOSE_HOURS",
    "worker_metrics_port": "FRONTLINE_WORKER_METRICS_PORT",
    "log_format": "FRONTLINE_LOG_FORMAT",
    "startup_timeout": "FRONTLINE_STARTUP_TIMEOUT",
    "worker_stall_s": "FRONTLINE_WORKER_STALL_S",
    "ingest_dead_letter_budget": "FRONTLINE_INGEST_DEAD_LETTER_BUDGET",
    "http_max_connections": "FRONTLINE_HTTP_MAX_CONNECTIONS",
    "http_max_connections_per_client": "FRONTLINE_HTTP_MAX_CONNECTIONS_PER_CLIENT",
    "http_head_timeout": "FRONTLINE_HTTP_HEAD_TIMEOUT",
    "http_body_timeout": "FRONTLINE_HTTP_BODY_TIMEOUT",
}

DEFAULT_CLICKHOUSE_URL = "clickhouse://frontline:frontline-local@127.0.0.1:9000"
HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]{0,100}$")


class ConfigError(Exception):
    """A configuration value is wrong; the message names the variable and what to do."""


class ServiceUnavailable(ConfigError):  # noqa: N818 - names what happened
    """Kafka or ClickHouse does not answer (yet); start-up steps retry it for a while."""


# The environment `from_env` reads: os.environ, or the mapping it was given (tests, tools).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("frontline_environ", default=None)


class _Environ(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return parse_env_vars(
            environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Settings(BaseSettings):
    """Frontline's configuration. Build it with `Settings.from_env()`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, case_sensitive=False, frozen=True, extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values given in code first, then the environment; no .env or secrets files.
        return init_settings, _Environ(settings_cls)

    kafka_bootstrap: Annotated[str, Field(min_length=1)] = "127.0.0.1:9092"
    # Kafka security (README, "Kafka security"): every client uses the same.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-256"
    kafka_username: str = ""
    kafka_password: str = ""
    kafka_ca_file: str = ""
    topic_prefix: str = "frontline."
    clickhouse_url: str = DEFAULT_CLICKHOUSE_URL
    clickhouse_database: str = "frontline"
    # A ClickHouse cluster of <remote_servers> ('' = one server): migrations create Replicated
    # and Distributed tables across it (docs/scaling.md).
    clickhouse_cluster: str = ""
    # Other servers (host:port,...) to try when FRONTLINE_CLICKHOUSE_URL's does not answer.
    clickhouse_alt_hosts: str = ""
    dashboard_password: str = "dashboard-local"
    # Ingest (README, "Ingest").
    topic_partitions: Annotated[int, Field(ge=1, le=10_000)] = 6
    topic_replication: Annotated[int, Field(ge=1, le=32)] = 1
    # 0: 2 when topics have 3 or more replicas (one broker may be lost, acks=all still needs two
    # copies), else 1.
    topic_min_insync_replicas: Annotated[int, Field(ge=0, le=32)] = 0
    http_host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65_535)] = 8080
    # `frontline dashboard` (its JSON API), on FRONTLINE_HTTP_HOST.
    dashboard_port: Annotated[int, Field(ge=0, le=65_535)] = 8090
    ingest_rate_limit: Annotated[float, Field(gt=0)] = 20.0
    # Dead letters one device token may cause per hour; beyond, its requests get 429.
    ingest_dead_letter_budget: Annotated[int, Field(ge=1)] = 1000
    http_max_connections: Annotated[int, Field(ge=1)] = 1024
    http_max_connections_per_client: Annotated[int, Field(ge=1)] = 64
    http_head_timeout: Annotated[float, Field(gt=0, le=600)] = 10.0
    http_body_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    token_file: Annotated[str, Field(min_length=1)] = "~/.frontline/device-tokens.json"
    # Projections (README, "Counting"): open shifts older than this count as unclosed.
    auto_close_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 16.0
    # Operations (README, "Observability"): the worker's /metrics port (0: none), log lines.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65_535)] = 6067
    log_format: Literal["text", "json"] = "text"
    # Start-up steps retry a Kafka or ClickHouse that is still starting for this long (seconds).
    startup_timeout: Annotated[float, Field(ge=0, le=3600)] = 30.0
    # A worker that writes no batch this long while work waits logs where it waits (0: never).
    worker_stall_s: Annotated[float, Field(ge=0, le=86_400)] = 120.0

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            if not HOST_PORT.match(server.strip()):
                raise ValueError(f"{server!r} is not host:port (e.g. 127.0.0.1:9092)")
        return value

    @model_validator(mode="after")
    def _sasl_user(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_username and self.kafka_password
        ):
            raise ValueError(
                f"{self.kafka_security_protocol} needs a user: set "
                f"{ENV['kafka_username']} and {ENV['kafka_password']}"
            )
        if self.kafka_ca_file and not Path(self.kafka_ca_file).is_file():
            raise ValueError(f"{ENV['kafka_ca_file']}={self.kafka_ca_file!r} is not a file")
        return self

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not TOPIC_PREFIX.match(value):
            raise ValueError("use at most 100 of the characters Kafka allows: A-Z a-z 0-9 . _ -")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _url(cls, value: str) -> str:
        _parse_clickhouse_url(value, "frontline")
        return value

    @field_validator("clickhouse_database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not DATABASE_NAME.match(value):
            raise ValueError("use letters, digits and _ (not starting with a digit), at most 63")
        return value

    @field_validator("clickhouse_cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if value and not DATABASE_NAME.match(value):
            raise ValueError("a <remote_servers> cluster name: letters, digits and _, or empty")
        return value

    @field_validator("clickhouse_alt_hosts")
    @classmethod
    def _alt_hosts(cls, value: str) -> str:
        for server in filter(None, (v.strip() for v in value.split(","))):
            if not HOST_PORT.match(server):
                raise ValueError(f"{server!r} is not host:port (e.g. 127.0.0.1:9112)")
        return value

    @model_validator(mode="after")
    def _insync(self) -> Settings:
        if self.topic_min_insync_replicas > self.topic_replication:
            raise ValueError(
                f"{ENV['topic_min_insync_replicas']}={self.topic_min_insync_replicas} is more than "
                f"{ENV['topic_replication']}={self.topic_replication}: no write could succeed"
            )
        return self

    @property
    def min_insync_replicas(self) -> int:
        """min.insync.replicas of Frontline's topics (FRONTLINE_TOPIC_MIN_INSYNC_REPLICAS)."""
        if self.topic_min_insync_replicas:
            return self.topic_min_insync_replicas
        return 2 if self.topic_replication >= 3 else 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """From os.environ, or from `environ`; ConfigError names each wrong variable."""
        env = os.environ if environ is None else environ
        values = {field: env[var] for field, var in ENV.items() if var in env}
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                var = ENV.get(field, field)
                message = err["msg"].removeprefix("Value error, ")
                if not field:  # a rule across variables; the message names them
                    problems.append(message)
                    continue
                secret = field in ("clickhouse_url", "dashboard_password", "kafka_password")
                shown = "<hidden>" if secret else repr(values.get(field))
                problems.append(f"{var}={shown}: {message}")
            raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
        finally:
            _ENVIRON.reset(token)

    def environ(self) -> dict[str, str]:
        """These settings as FRONTLINE_* variables, for a child process to read back."""
        return {var: str(getattr(self, field)) for field, var in ENV.items()}

    def topic(self, name: str) -> str:
        """The full Kafka topic name for one of Frontline's topics."""
        return f"{self.topic_prefix}{name}"

    @property
    def clickhouse(self) -> ClickHouseTarget:
        target = _parse_clickhouse_url(self.clickhouse_url, self.clickhouse_database)
        return replace(target, cluster=self.clickhouse_cluster, alt_hosts=self.clickhouse_alt_hosts)

    @property
    def dashboard(self) -> ClickHouseTarget:
        """The same server as the read-only `dashboard` user, for queries."""
        return replace(self.clickhouse, user="dashboard", password=self.dashboard_password)

    @property
    def token_path(self) -> Path:
        """Where device-token hashes are kept (`~` expanded)."""
        return Path(self.token_file).expanduser()

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",")]

    def describe(self) -> dict[str, str]:
        """Effective settings by variable name, password hidden."""
        ch = self.clickhouse
        return {
            ENV["kafka_bootstrap"]: self.kafka_bootstrap,
            ENV["kafka_security_protocol"]: self.kafka_security_protocol,
            ENV["kafka_sasl_mechanism"]: self.kafka_sasl_mechanism,
            ENV["kafka_username"]: self.kafka_username,
            ENV["kafka_password"]: "***" if self.kafka_password else "",
            ENV["kafka_ca_file"]: self.kafka_ca_file,
            ENV["topic_prefix"]: self.topic_prefix,
            ENV["clickhouse_url"]: f"clickhouse://{ch.user}:***@{ch.host}:{ch.port}",
            ENV["clickhouse_database"]: self.clickhouse_database,
            ENV["clickhouse_cluster"]: self.clickhouse_cluster,
            ENV["clickhouse_alt_hosts"]: self.clickhouse_alt_hosts,
            ENV["topic_partitions"]: str(self.topic_partitions),
            ENV["topic_replication"]: str(self.topic_replication),
            ENV["topic_min_insync_replicas"]: str(self.min_insync_replicas),
            ENV["http_host"]: self.http_host,
            ENV["http_port"]: str(self.http_port),
            ENV["dashboard_port"]: str(self.dashboard_port),
            ENV["ingest_rate_limit"]: str(self.ingest_rate_limit),
            ENV["ingest_dead_letter_budget"]: str(self.ingest_dead_letter_budget),
            ENV["http_max_connections"]: str(self.http_max_connections),
            ENV["http_max_connections_per_client"]: str(self.http_max_connections_per_client),
            ENV["http_head_timeout"]: f"{self.http_head_timeout:g}",
            ENV["http_body_timeout"]: f"{self.http_body_timeout:g}",
            ENV["token_file"]: self.token_file,
            ENV["auto_close_hours"]: f"{self.auto_close_hours:g}",
            ENV["worker_metrics_port"]: str(self.worker_metrics_port),
            ENV["log_format"]: self.log_format,
            ENV["startup_timeout"]: f"{self.startup_timeout:g}",
            ENV["worker_stall_s"]: f"{self.worker_stall_s:g}",
        }


def _parse_clickhouse_url(url: str, database: str) -> ClickHouseTarget:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or 9000
    except ValueError:
        raise ValueError(
            "the port is not a number (want clickhouse://USER:PASSWORD@HOST:PORT)"
        ) from None
    if parts.scheme != "clickhouse" or not parts.hostname:
        raise ValueError("want clickhouse://USER:PASSWORD@HOST:PORT (native protocol, e.g. 9000)")
    if parts.path not in ("", "/"):
        raise ValueError("put the database in FRONTLINE_CLICKHOUSE_DATABASE, not in the URL")
    return ClickHouseTarget(
        host=parts.hostname,
        port=port,
        user=urllib.parse.unquote(parts.username or "default"),
        password=urllib.parse.unquote(parts.password or ""),
        database=database,
    )


def check_kafka_reachable(settings: Settings, timeout: float = 3.0) -> None:
    """Fail fast, naming the variable, when no bootstrap server accepts a connection."""
    errors = []
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except OSError as exc:
            errors.append(f"{server}: {exc.strerror or exc}")
    raise ServiceUnavailable(
        f"{ENV['kafka_bootstrap']}={settings.kafka_bootstrap!r}: no broker reachable "
        f"({'; '.join(errors)}). Is the stack up? (deploy/stack up)"
    )


_UNREACHABLE = frozenset({"NetworkError", "SocketTimeoutError", "ConnectionRefusedError"})


def check_clickhouse_reachable(settings: Settings) -> None:
    """Fail fast, naming the variable, when ClickHouse does not answer SELECT 1."""
    ch = settings.clickhouse
    try:
        ch.ping()
    except Exception as exc:  # the driver raises many types; all mean "cannot use it"
        # Refused or timed out: maybe still starting (retried at start-up); else wrong config.
        kind = ServiceUnavailable if type(exc).__name__ in _UNREACHABLE else ConfigError
        raise kind(
            f"{ENV['clickhouse_url']} (clickhouse://{ch.user}:***@{ch.host}:{ch.port}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "Is the stack up (deploy/stack up) and the password right?"
        ) from None
