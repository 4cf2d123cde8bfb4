-- The dashboard contract (DESIGN.md): `totals` and `daily_by_org`, names and columns public.
-- Views read the newest state per key (argMax by version), never a raw sum of rows, so rows
-- written twice never count twice. Inner aliases carry a prefix: ClickHouse 18.16 substitutes
-- an alias wherever the same name appears in its query.

-- Newest state of every counter key, summed over nothing yet (one row per partition and key).
CREATE VIEW IF NOT EXISTS {db}.counters_current AS
SELECT
    dim,
    day,
    org_id,
    member,
    argMax(events, version) AS c_events,
    argMax(calls, version) AS c_calls,
    argMax(calls_reached, version) AS c_calls_reached,
    argMax(call_s, version) AS c_call_s,
    argMax(sampling_assists, version) AS c_sampling_assists,
    argMax(disinfected_m2, version) AS c_disinfected_m2,
    argMax(floors, version) AS c_floors,
    argMax(donations_fen, version) AS c_donations_fen
FROM {db}.counters
GROUP BY dim, kafka_topic, kafka_partition, day, org_id, member;

-- Newest state of every shift, with its status at the time of the query: closed (checked in
-- and out), open (checked in, younger than the auto-close limit), unclosed (checked in, older:
-- auto-closed, unverified, no hours), orphan_checkout (a check-out whose check-in never came).
CREATE VIEW IF NOT EXISTS {db}.shifts_current AS
SELECT
    s_shift AS shift_id,
    s_day AS day,
    s_org AS org_id,
    s_team AS team_id,
    s_site AS site_id,
    s_volunteer AS volunteer_id,
    s_in_at AS checked_in_at,
    s_out_at AS checked_out_at,
    multiIf(
        s_in = 1 AND s_out = 1, 'closed',
        s_in = 1 AND s_age < (SELECT if(count() = 0, 57600, argMax(auto_close_s, version)) FROM {db}.shift_policy), 'open',
        s_in = 1, 'unclosed',
        'orphan_checkout') AS status,
    if(s_in = 1 AND s_out = 1 AND s_out_at > s_in_at,
       toUInt64(toUInt32(s_out_at) - toUInt32(s_in_at)), toUInt64(0)) AS service_s,
    if(s_in = 1 AND s_out = 0, toUInt64(greatest(s_age, 0)), toUInt64(0)) AS open_for_s
FROM
(
    SELECT
        s_shift,
        s_in,
        s_out,
        s_in_at,
        s_out_at,
        s_day,
        s_org,
        s_team,
        s_site,
        s_volunteer,
        toInt64(toUInt32(now())) - toInt64(toUInt32(s_in_at)) AS s_age
    FROM
    (
        SELECT
            shift_id AS s_shift,
            argMax(has_in, version) AS s_in,
            argMax(has_out, version) AS s_out,
            argMax(checked_in_at, version) AS s_in_at,
            argMax(checked_out_at, version) AS s_out_at,
            argMax(day, version) AS s_day,
            argMax(org_id, version) AS s_org,
            argMax(team_id, version) AS s_team,
            argMax(site_id, version) AS s_site,
            argMax(volunteer_id, version) AS s_volunteer
        FROM {db}.shifts
        GROUP BY kafka_topic, kafka_partition, shift_id
    )
);

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
        FROM {db}.counters_current
        WHERE dim = 'org'
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
            1 AS one,
            uniqExactIf(member, dim = 'org') AS orgs,
            uniqExactIf(member, dim = 'team') AS teams,
            uniqExactIf(member, dim = 'volunteer') AS volunteers
        FROM {db}.presence
        WHERE day = toDate('1970-01-01') AND org_id = ''
    ) AS activity
    ANY LEFT JOIN
    (
        SELECT
            1 AS one,
            sum(c_calls) AS calls,
            sum(c_calls_reached) AS calls_reached,
            round(sum(c_call_s) / 60, 2) AS call_minutes,
            sum(c_sampling_assists) AS sampling_assists,
            sum(c_disinfected_m2) AS disinfected_m2,
            sum(c_floors) AS floors,
            sum(c_donations_fen) AS donations_fen
        FROM {db}.counters_current
        WHERE dim = 'org'
    ) AS counts USING (one)
) AS events_side
ANY LEFT JOIN
(
    SELECT
        1 AS one,
        countIf(status != 'orphan_checkout') AS checkins,
        round(sum(service_s) / 3600, 2) AS service_hours,
        countIf(status = 'open') AS open_shifts,
        countIf(status = 'unclosed') AS unclosed_shifts
    FROM {db}.shifts_current
) AS shift_side USING (one);
