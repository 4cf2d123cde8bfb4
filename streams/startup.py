"""Start-up steps that talk to Kafka or ClickHouse retry what is worth retrying.

A freshly formatted Kafka answers the first group request with COORDINATOR_NOT_AVAILABLE while
it creates `__consumer_offsets`; a broker or server still starting refuses connections; a
partition may briefly have no leader. Each of those passes within seconds, so a start-up step
retries them with back-off for at most FRONTLINE_STARTUP_TIMEOUT seconds (default 30) before
the error goes up. Anything else (a wrong password, a missing database) goes up at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from clickhouse_driver.errors import NetworkError, SocketTimeoutError
from kafka.errors import KafkaError

from streams.settings import ServiceUnavailable

log = logging.getLogger("frontline.startup")
T = TypeVar("T")


def retriable(exc: BaseException) -> bool:
    """Kafka's retriable errors, and connections refused or timed out."""
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, ServiceUnavailable | NetworkError | SocketTimeoutError | ConnectionError)


def retrying(what: str, fn: Callable[[], T], timeout_s: float) -> T:
    """`fn()`, again after retriable errors until `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    while True:
        try:
            return fn()
        except Exception as exc:
            if not retriable(exc) or time.monotonic() + delay > deadline:
                raise
            log.info("%s: %s: %s; retrying in %.2f s", what, type(exc).__name__, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
