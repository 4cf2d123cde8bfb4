"""History reads take aiokafka's record batches whole (streams/audit/history.py); when the
aiokafka in use cannot give them, records come one per batch and the reads stay correct."""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import fetcher

from streams.audit import history


def test_the_pinned_aiokafka_has_what_the_batch_reads_replace() -> None:
    # Without it the reads fall back to one ConsumerRecord each: right, but 1.4x slower.
    assert callable(fetcher.PartitionRecords._unpack_records)
    with history._raw_batches():
        assert fetcher.PartitionRecords._unpack_records.__name__ == "batches"
    assert fetcher.PartitionRecords._unpack_records.__name__ == "_unpack_records"


def test_batches_and_single_records_read_alike() -> None:
    class Rec:
        def __init__(self, offset: int) -> None:
            self.offset = offset

    batch: list[Any] = [Rec(1), Rec(2)]
    whole = list(history._batches([history._Batch(batch)]))
    single = list(history._batches([Rec(1), Rec(2)]))
    assert [[r.offset for r in b] for b in whole] == [[1, 2]]
    assert [[r.offset for r in b] for b in single] == [[1], [2]]
