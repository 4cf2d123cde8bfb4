-- Per local day (Asia/Shanghai) and organisation (public view `daily_by_org`).
SELECT *
FROM daily_by_org
WHERE (%(org_id)s = '' OR org_id = %(org_id)s)
  AND day >= %(from_day)s AND day <= %(to_day)s
ORDER BY day, org_id
