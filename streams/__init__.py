"""The Frontline service: Faust app, agents, sinks, dead letters, web views, and the CLI."""

import os

# clickhouse_driver builds a table of every date from 1900 to 2299 when it is imported (0.2 s
# of each command's start); its lazy table (same values, computed on first use outside the
# warmed range) is chosen by this variable, read at import. Set before any import of it.
os.environ.setdefault("CLICKHOUSE_DRIVER_LASY_DATE_LUT", "2019-12-01:2030-12-31")
