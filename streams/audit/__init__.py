"""What auditors run: rebuild the projections from the event history (`replay`), compare two
databases (`compare`), export the history (`export`) and trace a figure to its events
(`trace`). docs/audit.md says what each proves."""

# A replay writes up to this many messages' rows at once (the worker: WORKER_WRITE_MAX): no
# dashboard waits on it, and on a box it shares with ClickHouse, fewer, larger inserts leave more
# CPU to the replay. At scale 1 a write rewrites every counter it changed, so larger writes
# rewrite each fewer times: two processes, back to back, 50,000 -> 200,000 -> 400,000 took all
# processes 90.4-91.1 -> 81.1-85.2 -> 75.7-84.1 us a message (ClickHouse 15.5-16.7 -> 12.0-12.7
# -> 10.6-11.7), for a peak RSS per process of 572 -> 840 -> 1,250-1,286 MiB (`--write-max`
# lowers it).
REPLAY_WRITE_MAX = 400_000
