"""`frontline dashboard`: the page (streams/dashboard/static) and the JSON API it polls, read
as the read-only `dashboard` user.

`GET /api/NAME?org=ID&from=YYYY-MM-DD&to=YYYY-MM-DD` returns the rows of the named query
(projections/queries/NAME.sql) exactly as `frontline query NAME --format json` prints them.

Polling costs little while nothing changes: each answer is kept with the checkpoint state it was
computed at (streams/dashboard/answers.py) and carries an ETag made of the query, its
parameters and that state, with `Cache-Control: no-cache`; a poll that sends the ETag back gets
304. `X-Frontline-As-Of` says which checkpoint time the figures are current as of. The state is
every partition's checkpoint (read at most every CHECKPOINT_READ_S, one small query for all
pollers) and the current minute (open shifts turn into unclosed ones as time passes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from projections import queries
from projections.store import StateStore
from streams.dashboard.answers import Answer, Answers
from streams.http_guard import ERROR_SCHEMA, serve_guarded
from streams.settings import Settings

STATIC = Path(__file__).parent / "static"
CACHED_ANSWERS = 256
CHECKPOINT_READ_S = 0.25
# How long an answer may stand without a new checkpoint, in seconds, by query: the delay
# query looks at the last minute of writes, the others change with a checkpoint (or, for
# open shifts, with the clock: within a minute).
FRESH_FOR_S = {"event_delay": 1}
DEFAULT_FRESH_S = 60
MAX_ORG_LENGTH = 64
AS_OF = "X-Frontline-As-Of"
# What the page asks for when it opens (static/app.js, load()).
PAGE_QUERIES = ("totals", "daily", "orgs", "by_team", "by_site", "open_shifts", "call_outcomes")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _day(request: web.Request, name: str, default: date) -> date | None:
    """The date in query parameter `name` (`default` if absent); None if it is not a date."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


Marks = tuple[tuple[tuple[str, int, int], ...], int]


class DashboardApi:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.answers = Answers(CACHED_ANSWERS)
        self._marks: Marks = ((), 0)
        self._marks_read_at = float("-inf")
        self._marks_read: asyncio.Task[Marks] | None = None

    async def _in_thread(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    async def _checkpoints(self) -> Marks:
        """Every partition's checkpoint and the newest write time, read once for all pollers
        of the last CHECKPOINT_READ_S."""
        if time.monotonic() - self._marks_read_at < CHECKPOINT_READ_S:
            return self._marks
        if self._marks_read is None:

            async def read() -> Marks:
                try:
                    versions, as_of = await self._in_thread(
                        lambda: StateStore(self.settings.dashboard).checkpoint_marks()
                    )
                    self._marks = (
                        tuple(sorted((t, p, v) for (t, p), v in versions.items())),
                        as_of,
                    )
                    self._marks_read_at = time.monotonic()
                    return self._marks
                finally:
                    self._marks_read = None

            self._marks_read = asyncio.get_running_loop().create_task(read())
        return await asyncio.shield(self._marks_read)

    async def answer(self, name: str, org_id: str, from_day: date, to_day: date) -> Answer:
        """The named query's answer as of the current checkpoints (or the last one while it is
        computed again)."""
        checkpoints, as_of_ms = await self._checkpoints()
        key = (name, org_id, from_day.isoformat(), to_day.isoformat())
        state = (checkpoints, int(self.clock() // FRESH_FOR_S.get(name, DEFAULT_FRESH_S)))

        async def compute() -> Answer:
            since_ms = int((self.clock() - 60) * 1000)
            result = await self._in_thread(
                lambda: queries.run(
                    self.settings.dashboard,
                    name,
                    org_id=org_id,
                    from_day=from_day,
                    to_day=to_day,
                    extra={"since_ms": since_ms},
                )
            )
            body = json.dumps(queries.records(result), ensure_ascii=False).encode()
            tag = hashlib.sha256(json.dumps([key, state]).encode()).hexdigest()[:32]
            return Answer(body, f'"{tag}"', as_of_ms, state)

        return await self.answers.get(key, state, compute)

    async def warm_up(self) -> None:
        """Compute the page's first answers (all orgs, all days) one after the other, so its
        first viewer does not wait for seven queries at once. Failures are left to the page."""
        for name in PAGE_QUERIES:
            try:
                await self.answer(name, "", queries.FIRST_DAY, queries.LAST_DAY)
            except Exception:  # ClickHouse not there yet: the page will ask again
                return

    async def query(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in queries.names():
            return _error(
                404, "unknown_query", f"no query {name!r}; one of " + ", ".join(queries.names())
            )
        org_id = request.query.get("org", "")
        if len(org_id) > MAX_ORG_LENGTH:
            return _error(400, "bad_org", f"org is at most {MAX_ORG_LENGTH} characters")
        from_day = _day(request, "from", queries.FIRST_DAY)
        to_day = _day(request, "to", queries.LAST_DAY)
        if from_day is None or to_day is None:
            wrong = "from" if from_day is None else "to"
            text = request.query.get(wrong)
            return _error(400, "bad_date", f"{wrong}={text!r}: send a date like 2022-04-01")
        try:
            answer = await self.answer(name, org_id, from_day, to_day)
        except Exception as exc:  # told to the poller, who may retry
            return _error(503, "clickhouse_unavailable", f"the query {name} failed: {exc}")
        headers = {"ETag": answer.etag, "Cache-Control": "no-cache", AS_OF: iso_ms(answer.as_of_ms)}
        if answer.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=answer.body, headers=headers, content_type="application/json")

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def create_dashboard_app(settings: Settings) -> web.Application:
    api = DashboardApi(settings)
    app = web.Application()
    app.router.add_get("/", _page)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_get("/api/{name}", api.query)
    app.router.add_get("/openapi.json", api.openapi)

    async def warm_up(app: web.Application) -> None:
        app["warm_up"] = asyncio.get_running_loop().create_task(api.warm_up())

    async def stop_warming_up(app: web.Application) -> None:
        app["warm_up"].cancel()

    app.on_startup.append(warm_up)
    app.on_cleanup.append(stop_warming_up)
    return app


def openapi_document() -> dict[str, Any]:
    day = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    error = {
        "description": "what to fix",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Frontline dashboard API", "version": "1"},
        "paths": {
            "/api/{name}": {
                "get": {
                    "summary": "The rows of a named query, as `frontline query NAME --format json`",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": queries.names()},
                        },
                        {
                            "name": "org",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": MAX_ORG_LENGTH},
                        },
                        {"name": "from", "in": "query", "schema": day},
                        {"name": "to", "in": "query", "schema": day},
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": (
                                "rows; ETag, Cache-Control: no-cache, and X-Frontline-As-Of:"
                                " the checkpoint time the figures are current as of"
                            ),
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "object"}}
                                }
                            },
                        },
                        "304": {"description": "nothing changed since the ETag sent"},
                        "400": error,
                        "404": error,
                        "503": error,
                    },
                }
            }
        },
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the API through the same connection limits and head timeout as ingest."""
    await serve_guarded(create_dashboard_app(settings), settings, host, port, stop, "dashboard API")
