"""What auditors run: rebuild the projections from the event history (`replay`), compare two
databases (`compare`), export the history (`export`) and trace a figure to its events
(`trace`). docs/audit.md says what each proves."""

# A replay writes up to this many messages' rows at once (the worker: WORKER_WRITE_MAX): no
# dashboard waits on it, and on a box it shares with ClickHouse, fewer, larger inserts leave more
# CPU to the replay (scale 0.1, two processes: ClickHouse 7.1-7.2 us per message, not 9.0-12.9).
REPLAY_WRITE_MAX = 50_000
