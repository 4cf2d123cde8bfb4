"""Connection limits and timeouts for Frontline's web servers (`frontline serve`, `frontline
dashboard`), which aiohttp alone does not have.

- At most `max_connections` open connections in all and `max_per_client` per client address:
  one more gets a short `503 too_many_connections` and is closed, before any byte is read.
- A request's head (request line and headers) must arrive within `head_timeout_s` of the
  connection opening, or of the previous response on a kept-alive connection; otherwise the
  connection is closed. aiohttp waits for a request head forever, so 200 clients that stall
  after connecting held 200 connections open (issue #11, finding 6).
- Idle kept-alive connections close after `keepalive_s`.

The body has its own limit (`BODY_TIMEOUT_S` in streams.ingest.http). A reverse proxy in front
can do all of this too; Frontline does not assume one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from streams.settings import Settings

log = logging.getLogger("frontline.http")

# The JSON error both servers answer with (this guard's 503 too), for their OpenAPI documents.
ERROR_SCHEMA: dict[str, Any] = {
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


@dataclass
class ConnectionGuard:
    max_connections: int = 1024
    max_per_client: int = 64
    head_timeout_s: float = 10.0
    keepalive_s: float = 15.0
    open: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    timed_out: int = 0

    @property
    def total(self) -> int:
        return sum(self.open.values())

    def admit(self, client: str) -> bool:
        if self.total >= self.max_connections or self.open[client] >= self.max_per_client:
            self.refused += 1
            return False
        self.open[client] += 1
        return True

    def release(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]


_BODY = json.dumps(
    {
        "error": {
            "code": "too_many_connections",
            "message": "too many open connections (from this client or in all); retry later",
        }
    }
).encode()
TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler, admitted by the guard and timed until each request head."""

    guard: ConnectionGuard  # set on the subclass GuardedServer makes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if peer else "?"
        self._admitted = self.guard.admit(self._client)
        self._head_timer: asyncio.TimerHandle | None = None
        if not self._admitted:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TOO_MANY)
            transport.close()
            return
        super().connection_made(transport)
        self.expect_head()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self.guard.release(self._client)
        self.head_arrived()
        super().connection_lost(exc)

    def expect_head(self) -> None:
        """(Re)start the clock for the next request head."""
        self.head_arrived()
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.guard.head_timeout_s, self._no_head)

    def head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _no_head(self) -> None:
        self.guard.timed_out += 1
        self.force_close()
        if self.transport is not None:
            self.transport.close()


class _GuardedFactory:
    """The protocol factory a site serves: aiohttp's Server, making guarded handlers."""

    def __init__(self, server: web.Server, guard: ConnectionGuard) -> None:
        self._server = server
        self._handler_class = type("Guarded", (GuardedRequestHandler,), {"guard": guard})

    def __call__(self) -> RequestHandler:
        server = self._server
        handler: RequestHandler = self._handler_class(
            server,
            loop=server._loop,
            **server._kwargs,
        )
        return handler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose connections go through `guard`."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=guard.keepalive_s, **kwargs)
        self.guard = guard

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return cast(web.Server, _GuardedFactory(server, self.guard))


@web.middleware
async def head_clock(request: web.Request, handler: Any) -> web.StreamResponse:
    """The head arrived: stop its clock; once answered, the next head's clock starts."""
    protocol = request.protocol
    if isinstance(protocol, GuardedRequestHandler):
        protocol.head_arrived()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        if isinstance(protocol, GuardedRequestHandler):
            protocol.expect_head()


def guard_of(settings: Settings) -> ConnectionGuard:
    """The connection limits and head timeout of `settings`."""
    return ConnectionGuard(
        max_connections=settings.http_max_connections,
        max_per_client=settings.http_max_connections_per_client,
        head_timeout_s=settings.http_head_timeout,
    )


async def serve_guarded(
    app: web.Application, settings: Settings, host: str, port: int, stop: asyncio.Event, what: str
) -> None:
    """Serve `app` on host:port through the connection guard until `stop` is set."""
    runner = GuardedAppRunner(app, guard_of(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("serving %s on http://%s:%d", what, host, port)
        await stop.wait()
    finally:
        await runner.cleanup()
