-- Event -> ClickHouse delay: Kafka append time to the worker's write, over recent writes (ms).
SELECT
    count() AS events,
    quantileExact(0.5)(toInt64(written_at_ms) - toInt64(kafka_ts_ms)) AS p50_ms,
    quantileExact(0.99)(toInt64(written_at_ms) - toInt64(kafka_ts_ms)) AS p99_ms,
    max(toInt64(written_at_ms) - toInt64(kafka_ts_ms)) AS max_ms
FROM event_log
WHERE written_at_ms >= %(since_ms)s
