-- Tracing calls by outcome over the dates asked. Filters before it takes the newest counter
-- state: counters_current would first take it for every key of every dim (18.16 does not push
-- a WHERE into a view's GROUP BY; 2 s at scale 1).
SELECT
    k_member AS outcome,
    sum(k_calls) AS calls,
    round(sum(k_call_s) / 60, 2) AS call_minutes
FROM
(
    SELECT
        member AS k_member,
        argMax(calls, version) AS k_calls,
        argMax(call_s, version) AS k_call_s
    FROM counters
    WHERE dim = 'outcome'
      AND (%(org_id)s = '' OR org_id = %(org_id)s)
      AND day >= %(from_day)s AND day <= %(to_day)s
    GROUP BY kafka_topic, kafka_partition, day, org_id, member
)
GROUP BY outcome
ORDER BY calls DESC, outcome
