-- The views' tables. Creating the last one starts the stream (within 500 ms).

CREATE TABLE {db}.peer_shifts
(
    shift_id String,
    checked_in_at AggregateFunction(minIf, DateTime, UInt8),
    checked_out_at AggregateFunction(maxIf, DateTime, UInt8)
)
ENGINE = AggregatingMergeTree()
ORDER BY shift_id;

-- SummingMergeTree sums the numbers of rows with the same type and merges the states of the
-- AggregateFunction columns (as AggregatingMergeTree would).
CREATE TABLE {db}.peer_totals
(
    type String,
    events UInt64,
    people_assisted UInt64,
    legacy_count UInt64,
    area_m2 UInt64,
    floors UInt64,
    amount_fen UInt64,
    duration_s UInt64,
    reached UInt64,
    orgs AggregateFunction(uniqExactIf, String, UInt8),
    teams AggregateFunction(uniqExactIf, String, UInt8),
    volunteers AggregateFunction(uniqExactIf, String, UInt8)
)
ENGINE = SummingMergeTree()
ORDER BY type;
