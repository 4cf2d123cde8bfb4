"""`frontline dashboard`: the campaign's page and the JSON API it polls."""

from __future__ import annotations

import asyncio
import signal

import click

from streams.cli import main, settings
from streams.settings import check_clickhouse_reachable


@main.command("dashboard")
@click.option("--host", default=None, help="[default: FRONTLINE_HTTP_HOST]")
@click.option("--port", type=int, default=None, help="[default: FRONTLINE_DASHBOARD_PORT]")
def dashboard(host: str | None, port: int | None) -> None:
    """Serve the dashboard page (GET /, zh/en, refreshes itself) and its JSON API: GET /api/NAME
    (a named query's rows, as `frontline query NAME --format json`, with ETag, Cache-Control
    and X-Frontline-As-Of) and /openapi.json, as the read-only `dashboard` user."""
    s = settings()
    check_clickhouse_reachable(s)
    from streams.dashboard.api import serve

    where_host = host or s.http_host
    where_port = port if port is not None else s.dashboard_port

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        click.echo(f"dashboard on http://{where_host}:{where_port}/ (API: /api/totals)", err=True)
        await serve(s, where_host, where_port, stop)

    asyncio.run(run())
