"""What dashboards read: the JSON API of `frontline dashboard` (issue #14: the page comes next)."""
