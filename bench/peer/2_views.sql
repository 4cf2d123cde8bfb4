-- The views, created before their target tables (3_tables.sql): the Kafka table streams only
-- while every view it feeds has its table, so no block goes by before both views are there.
--
-- 18.16: a materialized view outputs every column of its table, selects from a table (not a
-- subquery), and substitutes an alias wherever the name appears; no alias below reuses the
-- name of the column it reads (`raw`). The simpleJSON functions (18.16 has no JSONExtract)
-- find `"name":` and read the value right after the colon: whitespace there (Python's
-- json.dumps writes ': ') reads as 0 or '', so each view removes it first. Every field is
-- searched in the whole message, the first match wins.
--
-- A table's views receive each block in the order of their names (checked on 18.16):
-- peer_shifts_mv, then peer_totals_mv, whose message count (`events`) then says both have it.

-- Shifts by shift_id: the earliest check-in and the latest check-out (Frontline's pairing
-- rule, which min/max give for free: a repeated check-in changes nothing). OrZero: a timestamp
-- the function cannot read must not fail the block.
CREATE MATERIALIZED VIEW {db}.peer_shifts_mv TO {db}.peer_shifts AS
SELECT
    visitParamExtractString(replaceAll(raw, '": ', '":') AS j, 'shift_id') AS shift_id,
    minIfState(
        parseDateTimeBestEffortOrZero(visitParamExtractString(j, 'occurred_at')) AS at,
        visitParamExtractString(j, 'type') = 'volunteer.checked_in'
    ) AS checked_in_at,
    maxIfState(at, visitParamExtractString(j, 'type') = 'volunteer.checked_out') AS checked_out_at
FROM {db}.peer_queue
WHERE position(raw, 'volunteer.checked_') > 0
GROUP BY shift_id;

-- Everything else, per event type: message count, sums of every numeric field (totals.sql
-- picks the type each figure is about, so a field of the same name in another type cannot
-- leak in), and the distinct orgs, teams and volunteers.
CREATE MATERIALIZED VIEW {db}.peer_totals_mv TO {db}.peer_totals AS
SELECT
    visitParamExtractString(replaceAll(raw, '": ', '":') AS j, 'type') AS type,
    count() AS events,
    sum(visitParamExtractUInt(j, 'people_assisted')) AS people_assisted,
    -- sampling.assisted v0 (the pilot app) called it `count` (docs/contract.md, "Versions").
    sum(visitParamExtractUInt(j, 'count')) AS legacy_count,
    sum(visitParamExtractUInt(j, 'area_m2')) AS area_m2,
    sum(visitParamExtractUInt(j, 'floors')) AS floors,
    sum(visitParamExtractUInt(j, 'amount_fen')) AS amount_fen,
    sum(visitParamExtractUInt(j, 'duration_s')) AS duration_s,
    sum(visitParamExtractString(j, 'outcome') = 'reached') AS reached,
    uniqExactIfState(visitParamExtractString(j, 'org_id') AS o, o != '') AS orgs,
    uniqExactIfState(visitParamExtractString(j, 'team_id') AS t, t != '') AS teams,
    uniqExactIfState(visitParamExtractString(j, 'volunteer_id') AS v, v != '') AS volunteers
FROM {db}.peer_queue
GROUP BY type;
