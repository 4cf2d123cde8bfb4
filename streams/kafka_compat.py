"""A fix for kafka-python 3.0.12's idempotent producer, applied when the SDK loads.

When a batch that was already sent expires (the broker was down longer than the delivery
timeout), the producer resets its producer id to -1 but stays in state READY; it only asks
for a new id from state UNINITIALIZED, so it never does, and never sends again (measured here:
2 of 3 broker restarts under load left the producer silent for good; issue #11's Kafka-stopped
fault). The Java client moves to UNINITIALIZED there; this does the same for non-transactional
producers. It checks for the bug first, so a kafka-python that has fixed it is left alone.
"""

from __future__ import annotations

from typing import Any

from kafka.producer.transaction_manager import TransactionManager, TransactionState

_PATCHED = "_frontline_resets_to_uninitialized"


def _fixed(original: Any) -> Any:
    def reset_producer_id(self: Any) -> None:
        original(self)
        with self._lock:
            if not self.is_transactional():
                # A new InitProducerId is requested from here (Sender.run_once).
                self._current_state = TransactionState.UNINITIALIZED

    setattr(reset_producer_id, _PATCHED, True)
    return reset_producer_id


def _has_the_bug() -> bool:
    probe = TransactionManager(transactional_id=None, transaction_timeout_ms=0)
    probe._current_state = TransactionState.READY
    probe.reset_producer_id()
    return bool(probe._current_state == TransactionState.READY)


def apply() -> None:
    if getattr(TransactionManager.reset_producer_id, _PATCHED, False) or not _has_the_bug():
        return
    TransactionManager.reset_producer_id = _fixed(TransactionManager.reset_producer_id)
