-- One event topic keyed by event_id (issue #11): every copy of an event lands in one partition,
-- where the worker counts the id once. Three schema changes follow from it.

-- 1. Every message the worker did not count, one row per offset: duplicates (same content),
-- conflicts (an event_id accepted before with other content), rejections (the contract, or a
-- message outside its event_id's partition). With event_log, the offsets up to a checkpoint are
-- all accounted for, which `frontline verify` checks against Kafka. Written in the same flush
-- as event_log, before the checkpoint; a retried insert writes the same rows again
-- (ReplacingMergeTree on the offset).
CREATE TABLE IF NOT EXISTS {db}.uncounted
(
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    kafka_ts_ms UInt64,
    event_id UUID,
    outcome String,
    code String,
    content_hash String,
    written_at_ms UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY (kafka_topic, kafka_partition, kafka_offset);

-- 2. How many offsets a checkpoint covers (whatever their outcome): fewer than the offsets up to
-- it in Kafka means a gap, which `frontline lag` shows. 0 on checkpoints written before.
ALTER TABLE {db}.checkpoints ADD COLUMN messages UInt64 DEFAULT 0;

-- 3a. A shift's check-in and check-out now travel under their own event_ids, so they can be in
-- different partitions: each partition's worker keeps the part it saw (its own pairing, as
-- before), and the view joins the parts of a shift. The earliest check-in starts it and gives
-- its day, org, team, site and volunteer (ties by partition); the latest check-out ends it; a
-- shift without any check-in shows its latest check-out's. Status as before (0002).
-- 18.16 has no DROP VIEW: a view is dropped with DROP TABLE (the runner checks it is a view).
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
    )
);

-- 3b. totals as in 0002, but each side's join key is an aggregate (always 1): on 18.16, a query
-- naming only some columns (SELECT checkins FROM totals) pruned the others' aggregates, and a
-- side with none left returned one row per input row instead of one.
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
