-- Who was active, derived by ClickHouse from the accepted-events log instead of sent by the
-- worker: every insert into event_log now inserts its presence rows in the same query. The rows
-- are those the worker sent before (0001_state_tables.sql): per day (team and volunteer, with
-- their org) and all-time (org, team, volunteer; day 1970-01-01, org ''). presence is a set
-- counted with uniqExact, so a retried insert, or an older worker still sending its own rows
-- during an upgrade, adds nothing. Rows written before this migration stay where they are.
--
-- The view's output names (dim, day, org_id, member) are presence's. ClickHouse 18.16
-- substitutes an alias wherever its name appears in the query, also qualified, so the view
-- cannot read event_log's own day and org_id while naming its outputs day and org_id. It reads
-- these two copies instead, computed by the server on insert; the worker never sends them and
-- SELECT * does not show them. 18.16 has no ADD COLUMN IF NOT EXISTS: `frontline migrate`
-- skips an ADD COLUMN whose column exists, so a resumed run does not fail here.
ALTER TABLE {db}.event_log ADD COLUMN presence_day Date MATERIALIZED day;
ALTER TABLE {db}.event_log ADD COLUMN presence_org String MATERIALIZED org_id;

-- DISTINCT applies within each inserted block: a volunteer's events of one write give one row.
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
] AS p_row;
