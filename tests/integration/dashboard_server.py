"""`frontline dashboard` in a subprocess on a free port, for the API and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.settings import Settings
from tests.integration.harness import env_of
from tests.integration.servers import free_port


def get(url: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@contextmanager
def dashboard(
    settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, int, dict[str, str], bytes]]:
    """`frontline dashboard` running; its base URL and its first answer to /api/totals."""
    port = free_port()
    log = tmp_path / "dashboard.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port)],
        env={**os.environ, **env_of(settings)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, body = get(f"{base}/api/totals")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        yield base, status, headers, body
    finally:
        server.terminate()
        server.wait(timeout=30)
