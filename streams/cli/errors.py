"""Operational errors as one line that names the cause and the fix, with a documented exit code.

Every `frontline` command ends with one of:

    0  done
    1  done, and it found a problem in the data (rejected lines, a gap, counts that differ)
    2  fix the configuration or the setup (a variable, a password, a database not migrated)
    3  a service is down or unreachable (Kafka, ClickHouse): retry when it is back

A bug (any other exception) still shows its traceback. FRONTLINE_DEBUG=1 (or `frontline
--debug`) shows the traceback of operational errors too.
"""

from __future__ import annotations

from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError
from kafka.errors import KafkaError

from projections.migrate import MigrationError
from streams.ingest.producer import IngestError
from streams.settings import ENV, ConfigError, ServiceUnavailable, Settings

EXIT_PROBLEM = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3

# ClickHouse server error codes (ErrorCodes.cpp), the same on 18.16 and current releases.
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81
READONLY = 164
UNKNOWN_USER = 192
WRONG_PASSWORD = 193
DATABASE_ACCESS_DENIED = 291
AUTHENTICATION_FAILED = 516


def explain(exc: BaseException, settings: Settings | None) -> tuple[int, str] | None:
    """(exit code, one line) for an operational error; None for anything else (a bug)."""
    if isinstance(exc, ServiceUnavailable):
        return EXIT_UNAVAILABLE, str(exc)
    if isinstance(exc, ConfigError | MigrationError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, IngestError):
        return EXIT_UNAVAILABLE, str(exc)
    if isinstance(exc, ServerException):
        return _clickhouse(exc, settings)
    if isinstance(exc, NetworkError | SocketTimeoutError | EOFError | ConnectionError):
        where = _where(settings)
        return EXIT_UNAVAILABLE, (
            f"ClickHouse{where} does not answer ({type(exc).__name__}); is it up? "
            f"(the local stack: deploy/stack up; else {ENV['clickhouse_url']})"
        )
    if isinstance(exc, KafkaError):
        bootstrap = f" at {settings.kafka_bootstrap}" if settings else ""
        code = EXIT_UNAVAILABLE if getattr(exc, "retriable", False) else EXIT_CONFIG
        return code, (
            f"Kafka{bootstrap}: {type(exc).__name__}: {_first_line(exc)}; is it up, and are "
            f"{ENV['kafka_bootstrap']} and the FRONTLINE_KAFKA_* security settings right?"
        )
    return None


def _clickhouse(exc: ServerException, settings: Settings | None) -> tuple[int, str]:
    database = settings.clickhouse_database if settings else "the database"
    ch = settings.clickhouse if settings else None
    user = ch.user if ch else "the user"
    code = int(exc.code)
    if code == UNKNOWN_DATABASE:
        return EXIT_CONFIG, (
            f"ClickHouse has no database {database}: run `frontline migrate`, or check "
            f"{ENV['clickhouse_database']} for a typo"
        )
    if code == UNKNOWN_TABLE:
        return EXIT_CONFIG, (
            f"database {database} is not migrated ({_first_line(exc)}): run `frontline migrate`"
        )
    if code in (UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED):
        return EXIT_CONFIG, (
            f"ClickHouse refused the login ({_first_line(exc)}): check the user and password "
            f"in {ENV['clickhouse_url']} (the writer) and {ENV['dashboard_password']} (reads)"
        )
    if code == DATABASE_ACCESS_DENIED:
        return EXIT_CONFIG, (
            f"ClickHouse does not let {user} use database {database}: check "
            f"{ENV['clickhouse_database']} for a typo, or list it in "
            "FRONTLINE_CLICKHOUSE_DATABASES (the local stack: then deploy/stack up)"
        )
    if code == READONLY:
        return EXIT_CONFIG, f"ClickHouse refused a write as read-only: {_first_line(exc)}"
    return EXIT_CONFIG, f"ClickHouse refused: {_first_line(exc)}"


def _where(settings: Settings | None) -> str:
    if settings is None:
        return ""
    ch = settings.clickhouse
    return f" at {ch.host}:{ch.port}"


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    lines = [line for line in str(text).splitlines() if line.strip()]
    # The server's own text, without "Code: N." and its C++ stack trace.
    for line in lines:
        if "DB::Exception:" in line:
            return line.split("DB::Exception:", 1)[1].split(". Stack trace", 1)[0].strip()
    return lines[0] if lines else type(exc).__name__
