-- Activity per local day and site (sampling points, residential compounds, call centres).
SELECT
    day,
    org_id,
    member AS site_id,
    sum(c_events) AS events,
    sum(c_calls) AS calls,
    sum(c_calls_reached) AS calls_reached,
    round(sum(c_call_s) / 60, 2) AS call_minutes,
    sum(c_sampling_assists) AS sampling_assists,
    sum(c_disinfected_m2) AS disinfected_m2,
    sum(c_floors) AS floors,
    sum(c_donations_fen) AS donations_fen
FROM counters_current
WHERE dim = 'site'
  AND (%(org_id)s = '' OR org_id = %(org_id)s)
  AND day >= %(from_day)s AND day <= %(to_day)s
GROUP BY day, org_id, member
ORDER BY day, org_id, site_id
