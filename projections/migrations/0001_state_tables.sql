-- Frontline's projection state. Design and failure analysis: docs/architecture.md.
--
-- The worker owns the state of each Kafka topic-partition it consumes. Every row it writes is
-- "the state of this key after the partition was processed up to offset `version`": a pure
-- function of the partition's history. A retried insert, a worker killed between insert and
-- commit, or a zombie worker after a rebalance writes rows that are true states too, so
-- argMax(..., version) per key is exact whoever wrote last. A restarted worker reloads the
-- state at the partition's checkpoint (rows with version <= checkpoint), which every table had
-- written before the checkpoint was. Engines: ReplacingMergeTree with a version, so merges keep
-- the newest state; no PARTITION BY, so one INSERT is one part.
-- Seconds only: ClickHouse 18.16 has no DateTime64.

-- Accepted events, one row per unique event_id per source partition, with lineage. It is also
-- where the worker reloads the event_ids it has seen (dedup over the whole history).
CREATE TABLE IF NOT EXISTS {db}.event_log
(
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    kafka_ts_ms UInt64,
    event_id UUID,
    type String,
    schema_version UInt8,
    occurred_at DateTime,
    day Date,
    org_id String,
    team_id String,
    volunteer_id String,
    site_id String,
    shift_id String,
    source String,
    content_hash String,
    written_at_ms UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY (kafka_topic, kafka_partition, event_id);

-- Additive counts per partition, day and dimension member, as absolute values after offset
-- `version`. dim is org (member = org_id), team (team_id), site (site_id) or outcome (the call
-- outcome, for calls by outcome).
CREATE TABLE IF NOT EXISTS {db}.counters
(
    kafka_topic String,
    kafka_partition UInt32,
    dim String,
    day Date,
    org_id String,
    member String,
    version UInt64,
    events UInt64,
    calls UInt64,
    calls_reached UInt64,
    call_s UInt64,
    sampling_assists UInt64,
    disinfected_m2 UInt64,
    floors UInt64,
    donations_fen UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (dim, kafka_topic, kafka_partition, day, org_id, member);

-- Who was active: (dim, day, org_id, member) for distinct counts. Idempotent by nature (counted
-- with uniqExact). day = 1970-01-01 and org_id = '' hold the all-time sets used by `totals`.
CREATE TABLE IF NOT EXISTS {db}.presence
(
    dim String,
    day Date,
    org_id String,
    member String
)
ENGINE = ReplacingMergeTree()
ORDER BY (dim, day, org_id, member);

-- One row per shift per version, paired by shift_id whatever order check-in and check-out came.
-- Status (open / unclosed) depends on the time of the query and is computed by the views.
CREATE TABLE IF NOT EXISTS {db}.shifts
(
    kafka_topic String,
    kafka_partition UInt32,
    shift_id String,
    version UInt64,
    has_in UInt8,
    has_out UInt8,
    checked_in_at DateTime,
    checked_out_at DateTime,
    day Date,
    org_id String,
    team_id String,
    site_id String,
    volunteer_id String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kafka_topic, kafka_partition, shift_id);

-- How far each partition's state is written: the last offset covered. Written after every
-- other table of a flush succeeded, so state rows with version <= checkpoint are complete.
CREATE TABLE IF NOT EXISTS {db}.checkpoints
(
    kafka_topic String,
    kafka_partition UInt32,
    version UInt64,
    written_at_ms UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kafka_topic, kafka_partition);

-- Policy the views read at query time: shifts open longer than this are auto-closed.
CREATE TABLE IF NOT EXISTS {db}.shift_policy
(
    key UInt8,
    auto_close_s UInt32,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key;
