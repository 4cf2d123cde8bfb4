"""Start-up steps that talk to Kafka or ClickHouse retry what is worth retrying (tenacity).

A freshly formatted Kafka answers the first group request with COORDINATOR_NOT_AVAILABLE while
it creates `__consumer_offsets`; a broker or server still starting refuses connections; a
partition may briefly have no leader. Each of those passes within seconds, so a start-up step
retries them with back-off (0.25 s doubling to 5 s) for at most FRONTLINE_STARTUP_TIMEOUT
seconds (default 30) before the error goes up. Anything else (a wrong password, a missing
database) goes up at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from clickhouse_driver.errors import NetworkError, SocketTimeoutError
from kafka.errors import KafkaError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

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

    def note(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("%s: %s: %s; retrying in %.2f s", what, type(exc).__name__, exc, wait)

    for attempt in Retrying(
        retry=retry_if_exception(retriable),
        stop=stop_after_delay(timeout_s),
        wait=wait_exponential(multiplier=0.25, max=5),
        before_sleep=note,
        reraise=True,
    ):
        with attempt:
            return fn()
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover
