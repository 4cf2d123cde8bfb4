-- The peer's figures, in two single-row queries: rows not merged yet are summed (merged) here.
-- Hours and minutes are rounded to 2 decimals, as in Frontline's `totals`.

SELECT
    uniqExactIfMerge(orgs) AS orgs,
    uniqExactIfMerge(teams) AS teams,
    uniqExactIfMerge(volunteers) AS volunteers,
    sumIf(events, type = 'tracing.call_recorded') AS calls,
    sumIf(reached, type = 'tracing.call_recorded') AS calls_reached,
    round(sumIf(duration_s, type = 'tracing.call_recorded') / 60, 2) AS call_minutes,
    sumIf(people_assisted + legacy_count, type = 'sampling.assisted') AS sampling_assists,
    sumIf(area_m2, type = 'disinfection.completed') AS disinfected_m2,
    sumIf(floors, type = 'disinfection.completed') AS floors,
    sumIf(amount_fen, type = 'donation.received') AS donations_fen
FROM {db}.peer_totals;

-- A shift counts once it has a check-in; without a check-out it is open, or unclosed once
-- older than %(auto_close_s)s (FRONTLINE_AUTO_CLOSE_HOURS). 0: no check-in / no check-out.
SELECT
    countIf(s_in > 0) AS checkins,
    round(sumIf(s_out - s_in, s_in > 0 AND s_out > s_in) / 3600, 2) AS service_hours,
    countIf(s_in > 0 AND s_out = 0 AND toUInt32(now()) - s_in < %(auto_close_s)s) AS open_shifts,
    countIf(s_in > 0 AND s_out = 0 AND toUInt32(now()) - s_in >= %(auto_close_s)s) AS unclosed_shifts
FROM
(
    SELECT
        toUInt32(minIfMerge(checked_in_at)) AS s_in,
        toUInt32(maxIfMerge(checked_out_at)) AS s_out
    FROM {db}.peer_shifts
    GROUP BY shift_id
);
