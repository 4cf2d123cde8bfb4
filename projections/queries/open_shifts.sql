-- Shifts checked in and not out, younger than the auto-close limit now; longest open first.
SELECT
    shift_id,
    org_id,
    team_id,
    site_id,
    volunteer_id,
    checked_in_at,
    round(open_for_s / 3600, 2) AS open_hours
FROM shifts_current
WHERE status = 'open'
  AND (%(org_id)s = '' OR org_id = %(org_id)s)
  AND day >= %(from_day)s AND day <= %(to_day)s
ORDER BY open_for_s DESC, shift_id
