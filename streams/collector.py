"""How often Python's cyclic garbage collector runs in Frontline's processes that read the
event history: fetched records, events and their projections die by reference count, not by
cycles, so the default schedule's collections find little and cost much."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Python's default (700, 10, 10) ran a young collection every ~100 events and a full one every
# ~20,000; those walked ~1.5 M objects (recent event ids, the presence cache of the time,
# fetched batches) and took 11 s of a 60 s catch-up. Collecting a hundred times less often
# loses nothing: 18,754 -> 22,112 events/s at scale 0.2. In `frontline export` (records held a
# fetched run at a time) the collector took 15 % of the samples; a scale-1 day's reading went
# from 1.72-1.82 s to 1.28-1.55 s.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect cyclic garbage less often (GC_THRESHOLDS); for a worker or replay process."""
    gc.set_threshold(*GC_THRESHOLDS)


@contextmanager
def collecting_rarely() -> Iterator[None]:
    """GC_THRESHOLDS within, the process's own thresholds again after (a command's long read)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
