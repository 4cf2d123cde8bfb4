"""From Kafka to ClickHouse: the Faust worker (`app`), its batch fetcher, the projection
pipeline (`pipeline`), its start-up sequence (`prepare`), and what watches it (`lag`,
`verify`)."""
