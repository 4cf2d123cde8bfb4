-- Messages the worker did not count, by why: duplicates (the same event again), conflicts (an
-- event_id accepted before with other content), ignored (a second void of an event) and
-- rejections by code. Distinct offsets: a retried insert leaves a row twice until merged.
SELECT
    outcome,
    code,
    uniqExact(kafka_topic, kafka_partition, kafka_offset) AS messages
FROM uncounted
GROUP BY outcome, code
ORDER BY outcome, code
