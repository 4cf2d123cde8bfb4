-- Tracing calls by outcome, with minutes on the phone.
SELECT
    member AS outcome,
    sum(c_calls) AS calls,
    round(sum(c_call_s) / 60, 2) AS call_minutes
FROM counters_current
WHERE dim = 'outcome'
  AND (%(org_id)s = '' OR org_id = %(org_id)s)
  AND day >= %(from_day)s AND day <= %(to_day)s
GROUP BY member
ORDER BY calls DESC, outcome
