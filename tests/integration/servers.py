"""Test servers: the ingest app on a free port, and a throw-away Kafka broker and ClickHouse
server to kill.

The throw-away broker runs from the local stack's cached jars (`.state/kafka/libs-*`), the
throw-away ClickHouse from the installed binary with the stack's config templates; each has its
own ports and data folder, so a test can stop it without touching the shared stack.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web
from kafka.admin import KafkaAdminClient

from projections.database import create_database
from streams.http_guard import ConnectionGuard, GuardedAppRunner
from streams.settings import Settings
from streams.topic_admin import ensure

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(app: web.Application, guard: ConnectionGuard | None = None) -> Iterator[str]:
    """Run `app` on 127.0.0.1 in a background thread, through the connection guard `serve`
    uses (its defaults unless given); yields its base URL."""
    loop = asyncio.new_event_loop()
    runner = GuardedAppRunner(app, guard or ConnectionGuard())
    loop.run_until_complete(runner.setup())
    port = free_port()
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


class ThrowawayKafka:
    """One KRaft broker of our own; `freeze()`, `kill()` and `start()` it at will. Like the
    stack's, it has a SASL/SCRAM listener too (`sasl_bootstrap`, user `frontline`)."""

    SCRAM_USER = "frontline"
    SCRAM_PASSWORD = "throwaway-scram"

    def __init__(self, workdir: Path) -> None:
        state = Path(os.environ.get("FRONTLINE_STATE_DIR", REPO / ".state"))
        libs = sorted((state / "kafka").glob("libs-*"))
        if not libs:
            raise RuntimeError("no cached Kafka jars: run deploy/stack up once")
        self.libs = libs[-1]
        self.workdir = workdir
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.sasl_port = free_port()
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
        controller = free_port()
        template = (REPO / "deploy/kafka/server.properties.in").read_text()
        self.properties = workdir / "server.properties"
        self.properties.write_text(
            template.replace("@KAFKA_PORT@", str(self.port))
            .replace("@SASL_PORT@", str(self.sasl_port))
            .replace("@CONTROLLER_PORT@", str(controller))
            .replace("@DATA_DIR@", str(workdir / "data"))
        )
        self.java = [
            "java",
            "-Xms128m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={REPO / 'deploy/kafka/log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
        ]
        cluster = "-"
        while cluster.startswith("-"):  # the formatter would read a leading '-' as a flag
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(
            [
                *self.java,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster,
                "-c",
                str(self.properties),
                "--add-scram",
                f"SCRAM-SHA-256=[name={self.SCRAM_USER},password={self.SCRAM_PASSWORD}]",
                "--add-scram",
                f"SCRAM-SHA-512=[name={self.SCRAM_USER},password={self.SCRAM_PASSWORD}]",
            ],
            check=True,
            capture_output=True,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90) -> None:
        log = (self.workdir / "kafka.log").open("ab")
        self.process = subprocess.Popen(
            [*self.java, "kafka.Kafka", str(self.properties)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=[self.bootstrap], bootstrap_timeout_ms=2000
                )
                admin.close()
                return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"throw-away Kafka did not start; see {log.name}") from None
                time.sleep(0.5)

    def freeze(self) -> None:
        """SIGSTOP: the broker holds its connections but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None


@contextmanager
def own_kafka(settings: Settings, workdir: Path) -> Iterator[tuple[ThrowawayKafka, Settings]]:
    """A broker of the test's own (to kill and start at will), and `settings` pointed at it,
    its topics made; the broker is killed at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    kafka = ThrowawayKafka(workdir)
    kafka.start()
    try:
        own = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
        ensure(own)
        yield kafka, own
    finally:
        kafka.kill()


class ThrowawayClickHouse:
    """A ClickHouse server of our own (Debian's 18.16 binary, the stack's config templates and
    users), on free ports with its own data folder: `stop()` it and `start()` it again at will
    without touching the shared stack."""

    WRITER_PASSWORD = "throwaway-writer"
    DASHBOARD_PASSWORD = "throwaway-dashboard"

    def __init__(self, workdir: Path, databases: list[str]) -> None:
        """`databases`: the only ones its writer and dashboard users may reach."""
        self.workdir = workdir
        self.native_port = free_port()
        self.http_port = free_port()
        for sub in ("data", "tmp", "logs", "user_files", "format_schemas"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        config = (REPO / "deploy/clickhouse/config.xml.in").read_text()
        self.config = workdir / "config.xml"
        self.config.write_text(
            config.replace("@STATE@", str(workdir))
            .replace("@NATIVE_PORT@", str(self.native_port))
            .replace("@HTTP_PORT@", str(self.http_port))
            .replace("@INTERSERVER_PORT@", str(free_port()))
        )
        users = (REPO / "deploy/clickhouse/users.xml.in").read_text()
        self.users = workdir / "users.xml"
        self._template = users
        self.allow(databases)
        binary = shutil.which("clickhouse-server")
        self.command = [binary] if binary else ["/usr/bin/clickhouse", "server"]
        self.process: subprocess.Popen[bytes] | None = None

    def allow(self, databases: list[str]) -> None:
        """Render users.xml for these databases (a running server takes it on its restart)."""
        allowed = "".join(f"<database>{db}</database>" for db in databases)
        self.users.write_text(
            self._template.replace("@WRITER_SHA256@", _sha256(self.WRITER_PASSWORD))
            .replace("@DASHBOARD_SHA256@", _sha256(self.DASHBOARD_PASSWORD))
            .replace("@ALLOWED_DATABASES@", allowed)
        )

    @property
    def url(self) -> str:
        """FRONTLINE_CLICKHOUSE_URL for this server."""
        return f"clickhouse://frontline:{self.WRITER_PASSWORD}@127.0.0.1:{self.native_port}"

    def start(self, timeout_s: float = 60) -> None:
        log = (self.workdir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [*self.command, f"--config-file={self.config}"],
            cwd=self.workdir,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.native_port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(
                        f"throw-away ClickHouse did not start; see {self.workdir}/logs"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as an operator's restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.process = None


@contextmanager
def own_clickhouse(
    settings: Settings, workdir: Path, **update: object
) -> Iterator[tuple[ThrowawayClickHouse, Settings]]:
    """A ClickHouse server of the test's own (to stop and start at will) reaching only the
    database of `settings`, and `settings` pointed at it (with `update`), that database made;
    the server is stopped at the end."""
    clickhouse = ThrowawayClickHouse(workdir, [settings.clickhouse_database])
    clickhouse.start()
    try:
        own = settings.model_copy(
            update={
                "clickhouse_url": clickhouse.url,
                "dashboard_password": clickhouse.DASHBOARD_PASSWORD,
                **update,
            }
        )
        create_database(own.clickhouse)
        yield clickhouse, own
    finally:
        clickhouse.stop()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
