-- Per local day, over every organisation (or the one asked): the columns of daily_by_org that add
-- up, summed (the dashboard's day-by-day chart and table; /api/daily). Teams and volunteers
-- do not add up across organisations: daily_by_org has them per organisation.
SELECT
    d_key AS day,
    sum(d_checkins) AS checkins,
    round(sum(d_service_hours), 2) AS service_hours,
    sum(d_open_shifts) AS open_shifts,
    sum(d_unclosed_shifts) AS unclosed_shifts,
    sum(d_calls) AS calls,
    sum(d_calls_reached) AS calls_reached,
    round(sum(d_call_minutes), 2) AS call_minutes,
    sum(d_sampling_assists) AS sampling_assists,
    sum(d_disinfected_m2) AS disinfected_m2,
    sum(d_floors) AS floors,
    sum(d_donations_fen) AS donations_fen
FROM
(
    SELECT
        day AS d_key,
        checkins AS d_checkins,
        service_hours AS d_service_hours,
        open_shifts AS d_open_shifts,
        unclosed_shifts AS d_unclosed_shifts,
        calls AS d_calls,
        calls_reached AS d_calls_reached,
        call_minutes AS d_call_minutes,
        sampling_assists AS d_sampling_assists,
        disinfected_m2 AS d_disinfected_m2,
        floors AS d_floors,
        donations_fen AS d_donations_fen
    FROM daily_by_org
    WHERE (%(org_id)s = '' OR org_id = %(org_id)s)
      AND day >= %(from_day)s AND day <= %(to_day)s
)
GROUP BY day
ORDER BY day
