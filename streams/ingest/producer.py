"""The producer SDK: validated events onto Frontline's topics, each with its own acknowledgement.

    with Producer(Settings.from_env()) as producer:
        delivery = producer.send(raw_json_bytes)   # InvalidEvent if it breaks the contract
        delivery.result(timeout=10)                # Delivered(topic, partition, offset)

Guarantees:
- Nothing is sent that `events.decode` refuses; what is sent is the canonical encoding of the
  decoded event (older schema versions arrive upcast).
- Idempotent producer, `acks=all`: an acknowledged event is on every in-sync replica, and the
  client's own retries never duplicate it. An app that resends after an error may duplicate it;
  `event_id` makes that harmless downstream.
- One topic for every event type, key = `event_id`, partition = Kafka's murmur2 of the key (as
  the Java client): every copy of an event lands in one partition, where it is counted once
  (`events.routing`).
- At most `max_buffered` events wait for acknowledgement; `send` blocks beyond that
  (back-pressure) and raises `DeliveryTimeout` if no room frees within `max_block_s`.
- `close()` flushes first.

Errors are typed so an app can choose: `InvalidEvent` (fix the event; never retry as is),
`BrokerUnavailable` and `DeliveryTimeout` (retry later, same `event_id`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

from kafka import KafkaProducer
from kafka.codec import has_lz4
from kafka.errors import KafkaError, KafkaTimeoutError

from events import Event, Rejected, decode, encode
from events.routing import event_key, partition_for, routing_id
from streams import kafka_compat
from streams.kafka_security import kafka_python_options, unreachable_hint
from streams.settings import ConfigError, Settings, check_kafka_reachable
from streams.topics import dead_letter_topic, events_topic

kafka_compat.apply()  # kafka-python 3.0.12's idempotent producer, else silent after an outage

__all__ = [
    "BrokerUnavailable",
    "Delivered",
    "Delivery",
    "DeliveryTimeout",
    "IngestError",
    "InvalidEvent",
    "Producer",
]


class IngestError(Exception):
    """Base of the SDK's errors."""


class InvalidEvent(IngestError):  # noqa: N818 - names what happened
    """The event breaks the contract (`code`, `message`, `field`); fix it, do not retry as is."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(str(rejected))
        self.code = rejected.code
        self.message = rejected.message
        self.field = rejected.field


class BrokerUnavailable(IngestError):  # noqa: N818 - names what happened
    """Kafka cannot be reached or refused the write; retry later with the same event."""


class DeliveryTimeout(IngestError):  # noqa: N818 - names what happened
    """No acknowledgement in time; the event may or may not be stored: resend it (same id)."""


@dataclass(frozen=True)
class Delivered:
    """Where an acknowledged event is stored."""

    topic: str
    partition: int
    offset: int


DeliveryOutcome = Delivered | IngestError


def _translate(exc: BaseException) -> IngestError:
    """Kafka's exceptions -> the SDK's, at the boundary."""
    if isinstance(exc, IngestError):
        return exc
    if isinstance(exc, KafkaTimeoutError):
        return DeliveryTimeout(f"Kafka did not acknowledge in time: {exc}")
    return BrokerUnavailable(f"Kafka refused or could not take the write: {exc}")


class Delivery:
    """The acknowledgement of one sent event (or dead letter)."""

    def __init__(self, future: Any, timeout_s: float) -> None:
        self._future = future
        self._timeout_s = timeout_s

    def done(self) -> bool:
        return bool(self._future.is_done)

    def result(self, timeout: float | None = None) -> Delivered:
        """Block until Kafka acknowledges; raises `BrokerUnavailable` or `DeliveryTimeout`."""
        try:
            meta = self._future.get(timeout=self._timeout_s if timeout is None else timeout)
        except Exception as exc:
            raise _translate(exc) from exc
        return Delivered(meta.topic, meta.partition, meta.offset)

    def add_done_callback(self, callback: Callable[[DeliveryOutcome], None]) -> None:
        """Call `callback(Delivered | IngestError)` once, on Kafka's I/O thread: keep it short."""

        def ok(meta: Any) -> None:
            callback(Delivered(meta.topic, meta.partition, meta.offset))

        def failed(exc: BaseException) -> None:
            callback(_translate(exc))

        self._future.add_callback(ok)
        self._future.add_errback(failed)


def default_compression() -> str:
    """lz4 (cheap on CPU) when its package is installed, else gzip (always available)."""
    return "lz4" if has_lz4() else "gzip"


class Producer:
    """Sends validated events to Frontline's topics. Thread-safe; one per process is enough."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_buffered: int = 50_000,
        max_block_s: float = 30.0,
        delivery_timeout_s: float = 60.0,
        bootstrap_timeout_s: float = 10.0,
        compression: str | None = None,
        linger_ms: int = 10,
        client_id: str = "frontline-sdk",
    ) -> None:
        """Connect and check the event topics exist; raises `BrokerUnavailable` otherwise."""
        self._settings = settings
        self._max_block_s = max_block_s
        self._delivery_timeout_s = delivery_timeout_s
        self._slots = threading.BoundedSemaphore(max_buffered)
        self._events = events_topic(settings)
        self._dead_letters = dead_letter_topic(settings)
        self._partitions: dict[str, int] = {}
        delivery_ms = int(delivery_timeout_s * 1000)
        try:
            check_kafka_reachable(settings, timeout=min(bootstrap_timeout_s, 2.0))
        except ConfigError as exc:  # nothing listens: say so now, not after the timeout
            raise BrokerUnavailable(str(exc)) from None
        try:
            self._kafka = KafkaProducer(
                bootstrap_servers=settings.bootstrap_servers,
                **kafka_python_options(settings),
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                compression_type=compression or default_compression(),
                linger_ms=linger_ms,
                batch_size=256 * 1024,
                delivery_timeout_ms=delivery_ms,
                request_timeout_ms=min(30_000, max(1_000, delivery_ms - linger_ms - 1)),
                max_block_ms=int(max_block_s * 1000),
                bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
                allow_auto_create_topics=False,
            )
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"no Kafka broker at {settings.kafka_bootstrap} answers ({exc}); "
                f"{unreachable_hint(settings)}"
            ) from None
        try:
            for topic in [self._events, self._dead_letters]:
                self._partition_count(topic)
        except IngestError:
            self._kafka.close(timeout=1)
            raise

    # -- sending -----------------------------------------------------------------------------

    def send(self, raw: bytes | str, *, received_at: datetime | None = None) -> Delivery:
        """Validate raw JSON bytes with the contract and send the event."""
        data = raw.encode() if isinstance(raw, str) else raw
        try:
            event = decode(data, received_at=received_at)
        except Rejected as rejected:
            raise InvalidEvent(rejected) from None
        return self.send_event(event)

    def send_event(self, event: Event) -> Delivery:
        """Send an event already validated (an `events.Event` model)."""
        # The partition is chosen here as Kafka's default partitioner would, without its
        # per-record metadata lookups.
        # A void goes where the event it voids is (events.routing.routing_id).
        placed_by = routing_id(event)
        partition = partition_for(placed_by, self._partition_count(self._events))
        return self._send(self._events, event_key(placed_by), encode(event), partition)

    def send_validated(
        self,
        key: bytes,
        value: bytes,
        partition: int,
        on_acknowledged: Callable[[Any], None],
        on_failed: Callable[[IngestError], None],
    ) -> None:
        """Send an event checked by `streams.ingest.validate` (the canonical bytes
        `events.encode` made of a decoded event; key and partition from `events.routing`), with
        callbacks instead of a `Delivery` (`frontline emit` sends millions). Both run on Kafka's
        I/O thread: keep them short."""
        future = self._enqueue(self._events, key, value, partition)
        future.add_callback(on_acknowledged)
        future.add_errback(lambda exc: on_failed(_translate(exc)))

    def partition_count(self) -> int:
        """How many partitions the event topic has."""
        return self._partition_count(self._events)

    def send_dead_letter(self, record: bytes) -> Delivery:
        """Send a record made by `streams.dead_letters.dead_letter`."""
        return self._send(self._dead_letters, None, record, None)

    @staticmethod
    def partition_for(event_id: str, partitions: int) -> int:
        """The partition of the event topic (of `partitions`) where an event with this id goes."""
        return partition_for(UUID(event_id), partitions)

    def _send(self, topic: str, key: bytes | None, value: bytes, partition: int | None) -> Delivery:
        return Delivery(self._enqueue(topic, key, value, partition), self._delivery_timeout_s)

    def _enqueue(self, topic: str, key: bytes | None, value: bytes, partition: int | None) -> Any:
        """kafka-python's future for the record, once there is room for it."""
        if not self._slots.acquire(timeout=self._max_block_s):
            raise DeliveryTimeout(
                f"{self._max_block_s:g} s without room in the send buffer: Kafka is not "
                "acknowledging; retry later"
            )
        try:
            future = self._kafka.send(topic, value=value, key=key, partition=partition)
        except BaseException as exc:
            self._slots.release()
            raise _translate(exc) from exc
        future.add_both(self._release)
        return future

    def _release(self, _: object) -> None:
        self._slots.release()

    def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            try:
                parts = self._kafka.partitions_for(topic)
            except KafkaTimeoutError:
                raise BrokerUnavailable(
                    f"topic {topic} is not available within {self._max_block_s:g} s: "
                    "Kafka is down or the topic is missing (run `frontline topics ensure`)"
                ) from None
            if not parts:
                raise BrokerUnavailable(
                    f"topic {topic} does not exist: run `frontline topics ensure`"
                )
            count = self._partitions[topic] = len(parts)
        return count

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every event sent so far is acknowledged or failed."""
        try:
            self._kafka.flush(timeout=timeout)
        except KafkaError as exc:
            raise _translate(exc) from exc

    def close(self, timeout: float | None = None) -> None:
        """Flush, then release connections. Unacknowledged events fail their deliveries; if
        any are left after `timeout`, `DeliveryTimeout` says so once everything is closed."""
        failure: IngestError | None = None
        try:
            self.flush(timeout)
        except IngestError as exc:
            failure = exc
        try:
            self._kafka.close(timeout=0 if timeout is None or failure else timeout)
        except KafkaError:
            # kafka-python's close() flushes first and gives up on a timeout before stopping
            # its I/O thread: stop it here, or the thread and its sockets stay behind.
            sender = getattr(self._kafka, "_sender", None)
            if sender is not None:
                sender.force_close()
        if failure is not None:
            raise failure

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(timeout=self._delivery_timeout_s)
