-- What a replay (`frontline replay --into DATABASE`) set out to do, one row per partition of the
-- event topic, written once before its first event. A replay that is interrupted and started
-- again reads it back: it ends at the same offsets, so its result does not depend on what
-- arrived in between. Empty in a database a worker writes.
CREATE TABLE IF NOT EXISTS {db}.replay_plan
(
    kafka_topic String,
    kafka_partition UInt32,
    start_offset UInt64,    -- the first offset replayed
    end_offset UInt64,      -- the first offset not replayed (Kafka's end when planned)
    from_ms UInt64,         -- --from, as Kafka timestamps (0: from the beginning)
    to_ms UInt64,           -- --to (0: to the end as of planning)
    org_id String,          -- --org ('' : every organisation)
    planned_at_ms UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY (kafka_topic, kafka_partition);
