-- The sites with the most events over the dates asked (the dashboard's site table), at most
-- 100. Filters before it takes the newest state per key: counters_current would first take it
-- for every key of every dim (18.16 does not push a WHERE into a view's GROUP BY).
SELECT
    k_org AS org_id,
    k_member AS site_id,
    sum(k_events) AS events,
    sum(k_calls) AS calls,
    sum(k_calls_reached) AS calls_reached,
    round(sum(k_call_s) / 60, 2) AS call_minutes,
    sum(k_sampling_assists) AS sampling_assists,
    sum(k_disinfected_m2) AS disinfected_m2,
    sum(k_floors) AS floors,
    sum(k_donations_fen) AS donations_fen
FROM
(
    SELECT
        org_id AS k_org,
        member AS k_member,
        argMax(events, version) AS k_events,
        argMax(calls, version) AS k_calls,
        argMax(calls_reached, version) AS k_calls_reached,
        argMax(call_s, version) AS k_call_s,
        argMax(sampling_assists, version) AS k_sampling_assists,
        argMax(disinfected_m2, version) AS k_disinfected_m2,
        argMax(floors, version) AS k_floors,
        argMax(donations_fen, version) AS k_donations_fen
    FROM counters
    WHERE dim = 'site'
      AND (%(org_id)s = '' OR org_id = %(org_id)s)
      AND day >= %(from_day)s AND day <= %(to_day)s
    GROUP BY kafka_topic, kafka_partition, day, org_id, member
)
GROUP BY org_id, site_id
ORDER BY events DESC, org_id, site_id
LIMIT 100
