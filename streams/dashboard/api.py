"""`frontline dashboard`: the JSON API dashboards poll, read as the read-only `dashboard` user.

`GET /api/NAME?org=ID&from=YYYY-MM-DD&to=YYYY-MM-DD` returns the rows of the named query
(projections/queries/NAME.sql) exactly as `frontline query NAME --format json` prints them.

Polling costs little while nothing changes: each answer carries an ETag made of the query, its
parameters, every partition's checkpoint and the current minute (open shifts turn into unclosed
ones as time passes), with `Cache-Control: no-cache`. A poll that sends the ETag back gets 304
without the query running; the same answer for another poller comes from a small cache. Only
the checkpoints are read for that (one small query).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from aiohttp import web

from projections import queries
from projections.store import StateStore
from streams.http_guard import serve_guarded
from streams.settings import Settings

CACHED_ANSWERS = 256
# How long an answer may stand without a new checkpoint, in seconds, by query: the delay
# query looks at the last minute of writes, the others change with a checkpoint (or, for
# open shifts, with the clock: within a minute).
FRESH_FOR_S = {"event_delay": 1}
DEFAULT_FRESH_S = 60
MAX_ORG_LENGTH = 64


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


class DashboardApi:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.answers: OrderedDict[str, bytes] = OrderedDict()

    async def _in_thread(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    def _etag(self, name: str, bound: dict[str, object], checkpoints: dict[Any, int]) -> str:
        now = self.clock()
        state = [
            name,
            sorted((k, str(v)) for k, v in bound.items() if k != "since_ms"),
            sorted((t, p, v) for (t, p), v in checkpoints.items()),
            int(now // FRESH_FOR_S.get(name, DEFAULT_FRESH_S)),
        ]
        return '"' + hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32] + '"'

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
        target = self.settings.dashboard
        bound = queries.params(
            org_id, from_day, to_day, {"since_ms": int((self.clock() - 60) * 1000)}
        )
        checkpoints = await self._in_thread(lambda: StateStore(target).checkpoints())
        etag = self._etag(name, bound, checkpoints)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = self.answers.get(etag)
        if body is None:
            result = await self._in_thread(
                lambda: queries.run(
                    target,
                    name,
                    org_id=org_id,
                    from_day=from_day,
                    to_day=to_day,
                    extra={"since_ms": bound["since_ms"]},
                )
            )
            body = json.dumps(queries.records(result), ensure_ascii=False).encode()
            self.answers[etag] = body
            while len(self.answers) > CACHED_ANSWERS:
                self.answers.popitem(last=False)
        else:
            self.answers.move_to_end(etag)
        return web.Response(body=body, headers=headers, content_type="application/json")

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())


def create_dashboard_app(settings: Settings) -> web.Application:
    api = DashboardApi(settings)
    app = web.Application()
    app.router.add_get("/api/{name}", api.query)
    app.router.add_get("/openapi.json", api.openapi)
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
                            "description": "rows; ETag and Cache-Control: no-cache",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "object"}}
                                }
                            },
                        },
                        "304": {"description": "nothing changed since the ETag sent"},
                        "400": error,
                        "404": error,
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the API through the same connection limits and head timeout as ingest."""
    await serve_guarded(create_dashboard_app(settings), settings, host, port, stop, "dashboard API")
