-- Corrections without edits (event.voided, docs/contract.md), WIP on branch voids-wip.
-- event_log keeps every accepted event, voided or not: `voided` = 1 for an event whose void
-- came first (it never counted), `voids` = the event_id a void cancels.
ALTER TABLE {db}.event_log ADD COLUMN voided UInt8 DEFAULT 0;
ALTER TABLE {db}.event_log ADD COLUMN voids String DEFAULT '';

-- The presence keys of events voided after they counted, written by the worker with the
-- counters it took back; the views drop a key that no other event supports (to come).
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

-- Presence from event_log, as in 0003, without voids (a correction is nobody's work) and
-- without events voided before they came. 18.16 has no DROP VIEW or CREATE OR REPLACE: the
-- view is dropped with DROP TABLE (the runner checks it is a view) and created again; an
-- insert between the two derives no presence (run it with the workers stopped).
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
