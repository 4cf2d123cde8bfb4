"""The Frontline service: Faust app, agents, sinks, dead letters, web views, and the CLI."""

# Before any module here imports clickhouse_driver: projections chooses its lazy date table.
import projections  # noqa: F401
