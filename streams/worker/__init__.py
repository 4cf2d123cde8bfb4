"""From Kafka to ClickHouse: the Faust worker (`app`), its batch fetcher, the projection
pipeline (`pipeline`), its start-up sequence (`prepare`), and what watches it (`lag`,
`verify`)."""

# Catching up, a worker writes up to this many messages' rows at once (`--write-max`): enough
# to merge a counter changed in consecutive batches into one row, few enough to keep its
# checkpoints frequent and its memory low. A replay writes more (streams.audit.REPLAY_WRITE_MAX).
WORKER_WRITE_MAX = 20_000
