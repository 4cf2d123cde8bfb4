"""HTTP ingest for field apps that cannot speak Kafka: `POST /v1/events` (aiohttp).

Contract (also in `GET /openapi.json`):
- Body: a JSON array of 1..1000 events, at most 1 MiB. Header `Authorization: Bearer <token>`
  (a device token from `frontline tokens create`, bound to one org).
- 202: every event was either accepted, i.e. acknowledged by Kafka with `acks=all`, or
  rejected by the contract; `events[i]` says which, with `code` and `message`. Rejected events
  are also written to the dead-letter topic (origin `http`, device id, index in the batch).
  Resending a batch is safe: it is accepted again, and `event_id` dedups downstream.
- Whole-request errors, as `{"error": {"code", "message"}}`: 400 `malformed_json` /
  `not_an_array` / `empty_batch` / `bad_content_encoding` / `unreadable_body`; 401
  `unauthorized`; 403 `wrong_org`; 413 `too_large` / `too_many_events`; 429 `rate_limited`
  (Retry-After); 503 `kafka_unavailable` / `token_store_unavailable` (Retry-After).
- One bad event never fails a request: an oversized, unencodable or otherwise invalid event is
  rejected alone (its status says why) and the others are stored.
- Wrong org: if any event names another org than the token's, the whole request is refused
  (403) and no event of it is stored; the offending events go to the dead-letter topic. A
  device sending another org's events is misconfigured or compromised; accepting the rest
  would hide that. `events[i]` in the 403 body names the offending ones.
- 503: some event was not acknowledged in time. Nothing is reported accepted; some events may
  be stored already, which is harmless because the app resends the whole batch (same ids).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from pydantic import TypeAdapter

from events import Event, Rejected, decode
from streams.dead_letters import dead_letter
from streams.http_guard import ERROR_SCHEMA, head_clock, serve_guarded
from streams.ingest.producer import Delivered, Delivery, DeliveryOutcome, IngestError, Producer
from streams.ingest.tokens import Device, TokenError, TokenStore
from streams.metrics import IngestMetrics, serve_metrics
from streams.settings import ConfigError, Settings, check_kafka_reachable

MAX_EVENTS: Final = 1000
MAX_BYTES: Final = 1024 * 1024
RETRY_AFTER_S: Final = 5
# Kafka must acknowledge a request's events within this; then 503 and the app resends.
DELIVERY_TIMEOUT_S: Final = 10.0

log = logging.getLogger("frontline.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ERROR_CODE: Final = web.ResponseKey("frontline_error_code", str)


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error with a stable code; `retry_after` sets the Retry-After header."""
    retry_after = extra.pop("retry_after", None)
    body = {"error": {"code": code, "message": message}, **extra}
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    response = web.json_response(body, status=status, headers=headers)
    response[ERROR_CODE] = code  # for the request metrics
    return response


class RateLimiter:
    """A token bucket per device: `rate` requests per second, bursts up to `rate` (at least 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> float:
        """0 if allowed now, else the seconds to wait."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


class DeadLetterBudget:
    """Dead letters a device may cause: `per_hour`, refilled continuously, bursts up to it. A
    broken or hostile app cannot fill the dead-letter topic: beyond its budget, its requests
    are refused (429) and nothing of them is stored, so the app learns it must be fixed."""

    def __init__(self, per_hour: int) -> None:
        self.capacity = float(per_hour)
        self.rate = per_hour / 3600
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, count: int) -> float:
        """0 and `count` taken if there is room, else the seconds until there is."""
        if count == 0:
            return 0.0
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= count:
            self._buckets[key] = (tokens - count, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (min(count, self.capacity) - tokens) / self.rate


class _Duplicates(dict[str, Any]):
    """A JSON object that had a key twice (itself or in an object inside it)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    twice = False
    for key, value in pairs:
        twice = twice or key in out or _has_duplicates(value)
        out[key] = value
    return _Duplicates(out) if twice else out


def _has_duplicates(value: Any) -> bool:
    if isinstance(value, _Duplicates):
        return True
    return isinstance(value, list) and any(_has_duplicates(v) for v in value)


class KafkaLink:
    """The server's producer, made on first use and remade after Kafka comes back.

    While Kafka is down, a new connection is tried at most every RETRY_AFTER_S seconds; in
    between, requests get 503 at once instead of each waiting for a bootstrap timeout.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: Producer | None = None
        self._failed_at = -1e9
        self._last_error = ""
        self._lock = threading.Lock()

    def get(self) -> Producer:
        """The producer; raises `IngestError` when Kafka cannot be used now. Blocking."""
        with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() - self._failed_at < RETRY_AFTER_S:
                raise IngestError(self._last_error)
            try:
                self._producer = Producer(
                    self._settings,
                    client_id="frontline-http",
                    linger_ms=2,
                    max_block_s=DELIVERY_TIMEOUT_S / 2,
                    delivery_timeout_s=DELIVERY_TIMEOUT_S,
                    bootstrap_timeout_s=3.0,
                )
            except IngestError as exc:
                self._failed_at = time.monotonic()
                self._last_error = str(exc)
                raise
            return self._producer

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=DELIVERY_TIMEOUT_S)
                except IngestError as exc:
                    # Their requests were answered 503 already: the apps resend them.
                    log.warning("events not acknowledged at shutdown: %s", exc)
                self._producer = None


class _Waiter:
    """Counts down the deliveries of one request on Kafka's thread; wakes the handler once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._left = count
        self._lock = threading.Lock()
        self.failure: str | None = None
        self.done: asyncio.Future[None] = loop.create_future()
        if count == 0:
            self.done.set_result(None)

    def __call__(self, outcome: DeliveryOutcome) -> None:
        with self._lock:
            if not isinstance(outcome, Delivered) and self.failure is None:
                self.failure = str(outcome)
            self._left -= 1
            last = self._left == 0
        if last:
            self._loop.call_soon_threadsafe(_resolve, self.done)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class _Batch:
    """One request's events after validation, and what was handed to Kafka."""

    statuses: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[Event] = field(default_factory=list)
    dead_letters: list[bytes] = field(default_factory=list)
    wrong_org: bool = False


def _validate(items: list[Any], device: Device, received_at: datetime) -> _Batch:
    """Decode every element with the contract; check its org. Pure but for the clock passed in."""
    batch = _Batch()
    for index, item in enumerate(items):
        if _has_duplicates(item):
            raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "surrogatepass"
            )
            message = "an object of this event has a key twice; send each key once"
            origin = {"via": "http", "device_id": device.device_id, "index": index}
            batch.statuses.append(_rejected(index, item, "duplicate_key", message, None))
            batch.dead_letters.append(
                dead_letter(raw, code="duplicate_key", message=message, origin=origin)
            )
            continue
        # A lone surrogate (JSON "\ud800") has no UTF-8 form: encoded as it is, the event is
        # refused by the contract as invalid_encoding instead of failing the whole request.
        raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
        origin = {"via": "http", "device_id": device.device_id, "index": index}
        try:
            event = decode(raw, received_at=received_at)
        except Rejected as rej:
            batch.statuses.append(_rejected(index, item, rej.code, rej.message, rej.field))
            batch.dead_letters.append(
                dead_letter(raw, code=rej.code, message=rej.message, field=rej.field, origin=origin)
            )
            continue
        if event.org_id != device.org_id:
            message = f"this device's token is for org {device.org_id}, not {event.org_id}"
            batch.wrong_org = True
            batch.statuses.append(_rejected(index, item, "wrong_org", message, "org_id"))
            batch.dead_letters.append(
                dead_letter(raw, code="wrong_org", message=message, field="org_id", origin=origin)
            )
            continue
        batch.statuses.append(
            {"index": index, "event_id": str(event.event_id), "status": "accepted"}
        )
        batch.accepted.append(event)
    return batch


def _rejected(index: int, item: Any, code: str, message: str, fld: str | None) -> dict[str, Any]:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    return {
        "index": index,
        "event_id": event_id if isinstance(event_id, str) else None,
        "status": "rejected",
        "code": code,
        "message": message,
        "field": fld,
    }


def _send(link: KafkaLink, batch: _Batch) -> list[Delivery]:
    """Hand the batch to Kafka (blocking: runs in a thread). Wrong org: dead letters only."""
    producer = link.get()
    deliveries = [producer.send_dead_letter(record) for record in batch.dead_letters]
    if not batch.wrong_org:
        deliveries.extend(producer.send_event(event) for event in batch.accepted)
    return deliveries


class IngestApp:
    """The handlers, with their state (token store, rate limiter, Kafka link)."""

    def __init__(self, settings: Settings, store: TokenStore | None = None) -> None:
        self.settings = settings
        self.store = store or TokenStore(settings.token_path)
        self.limiter = RateLimiter(settings.ingest_rate_limit)
        self.link = KafkaLink(settings)
        self.metrics = IngestMetrics()
        self.budget = DeadLetterBudget(settings.ingest_dead_letter_budget)

    def _device(self, request: web.Request) -> Device | None:
        """The token's device; raises TokenError when the token store cannot be read."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.store.authenticate(token.strip())

    async def post_events(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        response = await self._post_events(request)
        self.metrics.requests.labels(str(response.status), response.get(ERROR_CODE, "")).inc()
        self.metrics.seconds.observe(time.monotonic() - started)
        return response

    async def _post_events(self, request: web.Request) -> web.Response:
        try:
            device = self._device(request)
        except TokenError as exc:
            return error(
                503,
                "token_store_unavailable",
                f"device tokens cannot be checked now; retry later ({exc})",
                retry_after=RETRY_AFTER_S,
            )
        if device is None:
            return error(401, "unauthorized", "send Authorization: Bearer <device token>")
        wait = self.limiter.allow(device.token_sha256)
        if wait:
            return error(
                429,
                "rate_limited",
                f"more than {self.limiter.rate:g} requests/s for this device; slow down",
                retry_after=max(1, int(wait + 0.999)),
            )
        if request.content_type != "application/json":
            return error(
                415,
                "unsupported_media_type",
                f"send Content-Type: application/json, not {request.content_type or 'none'}",
            )
        if (request.content_length or 0) > MAX_BYTES:
            return _too_large()
        try:
            body = await asyncio.wait_for(request.read(), self.settings.http_body_timeout)
        except TimeoutError:
            response = error(
                408,
                "body_timeout",
                f"the body did not arrive within {self.settings.http_body_timeout:g} s",
            )
            response.force_close()
            return response
        except web.HTTPRequestEntityTooLarge:
            return _too_large()
        except RequestPayloadError:
            if request.headers.get("Content-Encoding"):
                return error(
                    400,
                    "bad_content_encoding",
                    f"the body is not valid {request.headers['Content-Encoding']}; "
                    "send it compressed as declared, or without Content-Encoding",
                )
            return error(400, "unreadable_body", "the body could not be read whole; resend it")
        try:
            items = json.loads(body, object_pairs_hook=_object)
        except (ValueError, RecursionError):
            return error(400, "malformed_json", "the body is not a JSON document")
        if not isinstance(items, list):
            return error(400, "not_an_array", "send a JSON array of events: [{...}, ...]")
        if not items:
            return error(400, "empty_batch", "the array holds no events")
        if len(items) > MAX_EVENTS:
            return error(
                413, "too_many_events", f"{len(items)} events; at most {MAX_EVENTS} per request"
            )

        loop = asyncio.get_running_loop()
        # Validation (~15 us an event) and handing to Kafka run off the event loop.
        batch = await loop.run_in_executor(None, _validate, items, device, datetime.now(UTC))
        wait = self.budget.take(device.token_sha256, len(batch.dead_letters))
        if wait:
            return error(
                429,
                "dead_letter_budget",
                f"this device sent more invalid events than its budget of "
                f"{self.settings.ingest_dead_letter_budget} per hour; fix the app (each "
                "event's code says what is wrong). Nothing of this request was stored.",
                retry_after=max(1, int(wait + 0.999)),
            )
        try:
            deliveries = await loop.run_in_executor(None, _send, self.link, batch)
        except IngestError as exc:
            return _unavailable(str(exc))
        waiter = _Waiter(loop, len(deliveries))
        for delivery in deliveries:
            delivery.add_done_callback(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.done), DELIVERY_TIMEOUT_S + 2)
        except TimeoutError:
            return _unavailable("Kafka did not acknowledge in time")
        if waiter.failure is not None:
            return _unavailable(waiter.failure)
        rejected = sum(1 for s in batch.statuses if s["status"] == "rejected")
        self.metrics.dead_letters.inc(len(batch.dead_letters))
        for status in batch.statuses:
            if status["status"] == "rejected":
                self.metrics.rejected.labels(status["code"]).inc()
        if batch.wrong_org:
            return error(
                403,
                "wrong_org",
                f"this device may only send events of org {device.org_id}; nothing was stored",
                events=[s for s in batch.statuses if s.get("code") == "wrong_org"],
            )
        self.metrics.events.labels("accepted").inc(len(batch.accepted))
        self.metrics.events.labels("rejected").inc(rejected)
        return web.json_response(
            {"accepted": len(batch.accepted), "rejected": rejected, "events": batch.statuses},
            status=202,
        )

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when Kafka is reachable and the token store readable; 503 says which is not."""
        loop = asyncio.get_running_loop()
        body = {"status": "ok", "kafka": "reachable", "tokens": "readable"}
        try:
            await loop.run_in_executor(None, check_kafka_reachable, self.settings, 1.0)
        except ConfigError as exc:
            body.update(status="degraded", kafka=str(exc))
        try:
            self.store.check()
        except TokenError as exc:
            body.update(status="degraded", tokens=str(exc))
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    async def on_cleanup(self, app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.link.close)


def _too_large() -> web.Response:
    response = error(413, "too_large", f"the body is over {MAX_BYTES} bytes; split the batch")
    response.force_close()  # the unread rest of the body is not drained
    return response


def _unavailable(detail: str) -> web.Response:
    return error(
        503,
        "kafka_unavailable",
        f"Kafka is unavailable; nothing in this request is reported accepted: resend the "
        f"whole batch later ({detail})",
        retry_after=RETRY_AFTER_S,
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, ...) as JSON with a code, like ours."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error(exc.status, code, exc.reason)


def create_ingest_app(settings: Settings, store: TokenStore | None = None) -> web.Application:
    """The ingest app; mount it in the service or run it with `frontline serve`."""
    ingest = IngestApp(settings, store)
    # A little over MAX_BYTES so that an oversize body reaches our 413 with its JSON code.
    app = web.Application(client_max_size=MAX_BYTES + 1, middlewares=[head_clock, json_errors])
    app.router.add_post("/v1/events", ingest.post_events)
    app.router.add_get("/healthz", ingest.healthz)
    app.router.add_get("/openapi.json", ingest.openapi)
    app.router.add_get("/metrics", partial(serve_metrics, ingest.metrics.registry))
    app.on_cleanup.append(ingest.on_cleanup)
    return app


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for the ingest endpoints; the event schema comes from the contract."""
    event_schema = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
    defs = event_schema.pop("$defs", {})
    err = {"$ref": "#/components/schemas/Error"}

    def reply(description: str, schema: dict[str, Any] = err) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Frontline ingest", "version": "1"},
        "paths": {
            "/v1/events": {
                "post": {
                    "summary": "Submit up to 1000 events (1 MiB) for the token's org",
                    "security": [{"deviceToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_EVENTS,
                                    "items": {"$ref": "#/components/schemas/Event"},
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": reply(
                            "Every event accepted (acknowledged by Kafka) or rejected",
                            {"$ref": "#/components/schemas/Accepted"},
                        ),
                        "400": reply(
                            "malformed_json, not_an_array, empty_batch, bad_content_encoding, "
                            "unreadable_body"
                        ),
                        "408": reply("body_timeout: the body did not arrive in time"),
                        "415": reply("unsupported_media_type: send application/json"),
                        "401": reply("unauthorized: missing, unknown or revoked token"),
                        "403": reply("wrong_org: an event of another org; nothing stored"),
                        "413": reply("too_large (> 1 MiB) or too_many_events (> 1000)"),
                        "429": reply(
                            "rate_limited, or dead_letter_budget (too many invalid events from "
                            "this device; nothing stored); see Retry-After"
                        ),
                        "503": reply(
                            "kafka_unavailable or token_store_unavailable; resend the batch "
                            "after Retry-After"
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Whether Kafka is reachable and the token file readable",
                    "responses": {"200": {"description": "ok"}, "503": {"description": "down"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (requests, events, rejections by code)",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"deviceToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **defs,
                "Event": event_schema,
                "Error": ERROR_SCHEMA,
                "Accepted": {
                    "type": "object",
                    "required": ["accepted", "rejected", "events"],
                    "properties": {
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "events": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["index", "status"],
                                "properties": {
                                    "index": {"type": "integer"},
                                    "event_id": {"type": ["string", "null"]},
                                    "status": {"enum": ["accepted", "rejected"]},
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                    "field": {"type": ["string", "null"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ingest on host:port through the connection guard until `stop` is set."""
    await serve_guarded(create_ingest_app(settings), settings, host, port, stop, "HTTP ingest")
