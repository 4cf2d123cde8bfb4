-- Corrections without edits: event.voided (docs/contract.md) cancels an earlier event. Every
-- event stays in event_log, voided or not; what changes is what counts.

-- `voided` = 1 for an event whose void came first (it never counted); `voids` = on a void, the
-- event_id it cancels.
ALTER TABLE {db}.event_log ADD COLUMN voided UInt8 DEFAULT 0;
ALTER TABLE {db}.event_log ADD COLUMN voids String DEFAULT '';

-- Presence from event_log, as in 0003, without voids (a correction is nobody's work) and
-- without events voided before they came. 18.16 has no DROP VIEW or CREATE OR REPLACE: the
-- view is dropped with DROP TABLE (the runner checks it is a view) and created again; an
-- insert between the two derives no presence (migrate with the workers stopped).
DROP TABLE IF EXISTS {db}.presence_from_event_log;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.presence_from_event_log TO {db}.presence AS
SELECT DISTINCT
    tupleElement(p_row, 1) AS dim,
    tupleElement(p_row, 2) AS day,
    tupleElement(p_row, 3) AS org_id,
    tupleElement(p_row, 4) AS member
FROM {db}.event_log
ARRAY JOIN [
    ('team', presence_day, presence_org, team_id),
    ('volunteer', presence_day, presence_org, volunteer_id),
    ('org', toDate('1970-01-01'), '', presence_org),
    ('team', toDate('1970-01-01'), '', team_id),
    ('volunteer', toDate('1970-01-01'), '', volunteer_id)
] AS p_row
WHERE voided = 0 AND type != 'event.voided';

-- An event voided after it counted already gave its presence rows, and presence is a set: the
-- worker writes those keys here with the counters it takes back (a retried write adds the same
-- rows). A key leaves the counts when no other event still supports it.
CREATE TABLE IF NOT EXISTS {db}.presence_voided
(
    dim String,
    day Date,
    org_id String,
    member String,
    event_id UUID
)
ENGINE = ReplacingMergeTree()
ORDER BY (dim, day, org_id, member, event_id);

-- The voided keys no standing event supports, that is no accepted event neither voided before
-- it came (voided = 1) nor voided after (in presence_voided). Teams and orgs: the counters hold,
-- per partition, team or org and day, how many standing events there are (a void takes its
-- event's back), so a key is supported where their sum is above 0. Volunteers are not in the
-- counters: event_log is read for the voided volunteers' rows only. Every side starts with a
-- constant that is false while there is no void, and then reads no mark at all. Sets of
-- tuples, not an ARRAY JOIN of every supporting event's keys (5 times slower on 18.16).
-- Measured at scale 1 (5.7 M events) on 18.16: this view 9 ms without voids, 1.8-2.0 s with
-- 5,700 voided events (0.1 %); totals 2.4-2.6 s without, 5.0 s with them. The servers' profiles
-- set use_index_for_in_with_subqueries = 0 (deploy/clickhouse/users.xml.in): otherwise 18.16
-- builds these sets again at each level of view nesting (totals: 9-11 s).
CREATE VIEW IF NOT EXISTS {db}.presence_dropped AS
SELECT DISTINCT dim, day, org_id, member
FROM {db}.presence_voided
WHERE NOT (
    (dim = 'volunteer' AND day != toDate('1970-01-01') AND (day, org_id, member) IN
    (
        SELECT presence_day, presence_org, volunteer_id
        FROM {db}.event_log
        PREWHERE volunteer_id IN (SELECT member FROM {db}.presence_voided WHERE dim = 'volunteer')
        WHERE (SELECT count() FROM {db}.presence_voided) > 0
            AND voided = 0 AND type != 'event.voided'
            AND event_id NOT IN (SELECT event_id FROM {db}.presence_voided)
            AND (presence_day, presence_org, volunteer_id) IN
                (SELECT day, org_id, member FROM {db}.presence_voided WHERE dim = 'volunteer')
    ))
    OR (dim = 'volunteer' AND day = toDate('1970-01-01') AND member IN
    (
        SELECT volunteer_id
        FROM {db}.event_log
        PREWHERE volunteer_id IN (SELECT member FROM {db}.presence_voided WHERE dim = 'volunteer')
        WHERE (SELECT count() FROM {db}.presence_voided) > 0
            AND voided = 0 AND type != 'event.voided'
            AND event_id NOT IN (SELECT event_id FROM {db}.presence_voided)
    ))
    OR (dim IN ('team', 'org') AND (dim, day, org_id, member) IN
    (
        SELECT
            tupleElement(k_row, 1),
            tupleElement(k_row, 2),
            tupleElement(k_row, 3),
            tupleElement(k_row, 4)
        FROM
        (
            SELECT k_dim, k_day, k_org, k_member
            FROM
            (
                SELECT
                    dim AS k_dim,
                    day AS k_day,
                    org_id AS k_org,
                    member AS k_member,
                    argMax(events, version) AS k_events
                FROM {db}.counters
                PREWHERE dim IN ('team', 'org') AND member IN
                    (SELECT member FROM {db}.presence_voided WHERE dim IN ('team', 'org'))
                WHERE (SELECT count() FROM {db}.presence_voided) > 0
                GROUP BY dim, kafka_topic, kafka_partition, day, org_id, member
            )
            GROUP BY k_dim, k_day, k_org, k_member
            HAVING sum(k_events) > 0
        )
        -- A team's (or org's) day supports its key of that day and its all-time key.
        ARRAY JOIN [
            (k_dim, k_day, k_org, k_member),
            (k_dim, toDate('1970-01-01'), '', k_member)
        ] AS k_row
    ))
);

-- A shift whose every check-in and check-out was voided has no part left: it is not a shift
-- (before, it showed as an orphan check-out). Otherwise as in 0004.
DROP TABLE IF EXISTS {db}.shifts_current;
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
            p_shift AS s_shift,
            max(p_in) AS s_in,
            max(p_out) AS s_out,
            minIf(p_in_at, p_in = 1) AS s_in_at,
            maxIf(p_out_at, p_out = 1) AS s_out_at,
            if(max(p_in) = 1, argMinIf(p_day, p_in_key, p_in = 1), argMaxIf(p_day, p_out_key, p_out = 1)) AS s_day,
            if(max(p_in) = 1, argMinIf(p_org, p_in_key, p_in = 1), argMaxIf(p_org, p_out_key, p_out = 1)) AS s_org,
            if(max(p_in) = 1, argMinIf(p_team, p_in_key, p_in = 1), argMaxIf(p_team, p_out_key, p_out = 1)) AS s_team,
            if(max(p_in) = 1, argMinIf(p_site, p_in_key, p_in = 1), argMaxIf(p_site, p_out_key, p_out = 1)) AS s_site,
            if(max(p_in) = 1, argMinIf(p_volunteer, p_in_key, p_in = 1), argMaxIf(p_volunteer, p_out_key, p_out = 1)) AS s_volunteer
        FROM
        (
            SELECT
                shift_id AS p_shift,
                argMax(has_in, version) AS p_in,
                argMax(has_out, version) AS p_out,
                argMax(checked_in_at, version) AS p_in_at,
                argMax(checked_out_at, version) AS p_out_at,
                argMax(day, version) AS p_day,
                argMax(org_id, version) AS p_org,
                argMax(team_id, version) AS p_team,
                argMax(site_id, version) AS p_site,
                argMax(volunteer_id, version) AS p_volunteer,
                -- Orders the parts: time first, then partition (a total order: no ties left).
                toUInt64(toUInt32(p_in_at)) * 65536 + kafka_partition AS p_in_key,
                toUInt64(toUInt32(p_out_at)) * 65536 + kafka_partition AS p_out_key
            FROM {db}.shifts
            GROUP BY kafka_topic, kafka_partition, shift_id
        )
        GROUP BY p_shift
        HAVING max(p_in) = 1 OR max(p_out) = 1
    )
);;

-- totals and daily_by_org as before (0004, 0002), without the dropped presence keys.
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
        FROM {db}.counters_current
        WHERE dim = 'org'
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
