-- The public views read the org counters only, but through counters_current, which takes the
-- newest state of every counter key of every dim: 18.16 does not push `WHERE dim = 'org'` into
-- a view's GROUP BY (enable_optimize_predicate_expression is off there, and turning it on
-- breaks daily_by_org), so both views aggregated all 2.6 M keys at scale 1 to use 74 k.
-- Measured at scale 1 on 18.16: totals 2.9-3.1 s, daily_by_org 2.6 s before.
-- counters_org_current filters before it groups. Otherwise totals and daily_by_org are 0007's.
CREATE VIEW IF NOT EXISTS {db}.counters_org_current AS
SELECT
    day,
    org_id,
    argMax(events, version) AS c_events,
    argMax(calls, version) AS c_calls,
    argMax(calls_reached, version) AS c_calls_reached,
    argMax(call_s, version) AS c_call_s,
    argMax(sampling_assists, version) AS c_sampling_assists,
    argMax(disinfected_m2, version) AS c_disinfected_m2,
    argMax(floors, version) AS c_floors,
    argMax(donations_fen, version) AS c_donations_fen
FROM {db}.counters
WHERE dim = 'org'
GROUP BY kafka_topic, kafka_partition, day, org_id, member;

DROP TABLE IF EXISTS {db}.totals;
CREATE VIEW IF NOT EXISTS {db}.totals AS
SELECT
    orgs,
    teams,
    volunteers,
    checkins,
    service_hours,
    open_shifts,
    unclosed_shifts,
    calls,
    calls_reached,
    call_minutes,
    sampling_assists,
    disinfected_m2,
    floors,
    donations_fen
FROM
(
    SELECT *
    FROM
    (
        SELECT
            toUInt8(count() >= 0) AS one,
            uniqExactIf(member, dim = 'org') AS orgs,
            uniqExactIf(member, dim = 'team') AS teams,
            uniqExactIf(member, dim = 'volunteer') AS volunteers
        FROM {db}.presence
        WHERE day = toDate('1970-01-01') AND org_id = ''
            AND (dim, day, org_id, member) NOT IN (SELECT dim, day, org_id, member FROM {db}.presence_dropped)
    ) AS activity
    ANY LEFT JOIN
    (
        SELECT
            toUInt8(count() >= 0) AS one,
            sum(c_calls) AS calls,
            sum(c_calls_reached) AS calls_reached,
            round(sum(c_call_s) / 60, 2) AS call_minutes,
            sum(c_sampling_assists) AS sampling_assists,
            sum(c_disinfected_m2) AS disinfected_m2,
            sum(c_floors) AS floors,
            sum(c_donations_fen) AS donations_fen
        FROM {db}.counters_org_current
    ) AS counts USING (one)
) AS events_side
ANY LEFT JOIN
(
    SELECT
        toUInt8(count() >= 0) AS one,
        countIf(status != 'orphan_checkout') AS checkins,
        round(sum(service_s) / 3600, 2) AS service_hours,
        countIf(status = 'open') AS open_shifts,
        countIf(status = 'unclosed') AS unclosed_shifts
    FROM {db}.shifts_current
) AS shift_side USING (one);

DROP TABLE IF EXISTS {db}.daily_by_org;
CREATE VIEW IF NOT EXISTS {db}.daily_by_org AS
SELECT
    day,
    org_id,
    teams,
    volunteers,
    checkins,
    service_hours,
    open_shifts,
    unclosed_shifts,
    calls,
    calls_reached,
    call_minutes,
    sampling_assists,
    disinfected_m2,
    floors,
    donations_fen
FROM
(
    SELECT *
    FROM
    (
        SELECT
            day,
            org_id,
            uniqExactIf(member, dim = 'team') AS teams,
            uniqExactIf(member, dim = 'volunteer') AS volunteers
        FROM {db}.presence
        WHERE dim IN ('team', 'volunteer') AND org_id != ''
            AND (dim, day, org_id, member) NOT IN (SELECT dim, day, org_id, member FROM {db}.presence_dropped)
        GROUP BY day, org_id
    ) AS activity
    ANY LEFT JOIN
    (
        SELECT
            day,
            org_id,
            sum(c_calls) AS calls,
            sum(c_calls_reached) AS calls_reached,
            round(sum(c_call_s) / 60, 2) AS call_minutes,
            sum(c_sampling_assists) AS sampling_assists,
            sum(c_disinfected_m2) AS disinfected_m2,
            sum(c_floors) AS floors,
            sum(c_donations_fen) AS donations_fen
        FROM {db}.counters_org_current
        GROUP BY day, org_id
    ) AS counts USING (day, org_id)
) AS events_side
ANY LEFT JOIN
(
    SELECT
        day,
        org_id,
        count() AS checkins,
        round(sum(service_s) / 3600, 2) AS service_hours,
        countIf(status = 'open') AS open_shifts,
        countIf(status = 'unclosed') AS unclosed_shifts
    FROM {db}.shifts_current
    WHERE status != 'orphan_checkout'
    GROUP BY day, org_id
) AS shift_side USING (day, org_id);
