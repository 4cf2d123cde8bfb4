"""bench/profile.py sorts py-spy's raw samples into pipeline stages."""

from __future__ import annotations

from bench.profile import OTHER, stages, table

M = "<module> (a.py:1);"
BATCH = "project_batch (streams/worker/pipeline.py:204);"
THREAD = "_bootstrap (threading.py:1);"
RAW = "\n".join(
    [
        f"{M}Pipeline.handle (p.py:496);{BATCH}project (p.py:172);decode_at (d.py:84) 30",
        f"{M}{BATCH}project (projections/projection.py:216);_count (p.py:355) 20",
        f"{M}{BATCH}project (projections/projection.py:183) 10",
        f"{THREAD}OrderedWriter._write.<locals>.<lambda> (p.py:389);_insert (s.py:116) 25",
        f"{THREAD}BatchFetcher.next_batch (streams/worker/fetcher.py:135) 5",
        f"{M}Handle._run (asyncio/events.py:80) 10",
    ]
)


def test_every_sample_goes_to_the_first_stage_it_is_in() -> None:
    total, found = stages(RAW)
    assert total == 100
    assert found["decode: pydantic validation and occurred_at"] == 30  # inside project_batch
    assert found["counters"] == 20
    assert found["projection, the rest"] == 10
    assert found["ClickHouse writer thread (driver serialization, I/O)"] == 25
    assert found["fetch (aiokafka records)"] == 5
    assert found[OTHER] == 10
    assert sum(found.values()) == total


def test_the_table_gives_shares_and_the_sample_count() -> None:
    text = table(RAW)
    assert "| decode: pydantic validation and occurred_at | 30.0% |" in text
    assert "| (samples) | 100 |" in text


def test_the_chain_link_counts_as_hashing() -> None:
    raw = f"{M}{BATCH}project (projections/projection.py:224);_link (p.py:135) 7"
    assert stages(raw)[1]["content hash and hash chain (SHA-256)"] == 7
