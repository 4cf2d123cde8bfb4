"""Test servers: the ingest app on a free port, and a throw-away Kafka broker to kill.

The throw-away broker runs from the local stack's cached jars (`.state/kafka/libs-*`) with its
own ports and data folder, so a test can stop it without touching the shared stack.
"""

from __future__ import annotations

import asyncio
import base64
import os
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

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Run `app` on 127.0.0.1 in a background thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
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
    """One KRaft broker of our own; `freeze()`, `kill()` and `start()` it at will."""

    def __init__(self, workdir: Path) -> None:
        state = Path(os.environ.get("FRONTLINE_STATE_DIR", REPO / ".state"))
        libs = sorted((state / "kafka").glob("libs-*"))
        if not libs:
            raise RuntimeError("no cached Kafka jars: run deploy/stack up once")
        self.libs = libs[-1]
        self.workdir = workdir
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        controller = free_port()
        template = (REPO / "deploy/kafka/server.properties.in").read_text()
        self.properties = workdir / "server.properties"
        self.properties.write_text(
            template.replace("@KAFKA_PORT@", str(self.port))
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
