-- The whole campaign in one row (public view `totals`).
SELECT * FROM totals
