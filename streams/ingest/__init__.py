"""Getting events into Kafka: the producer SDK, `frontline emit`, HTTP ingest (`serve`) and
its device tokens and connection guard. Every path validates with the contract first and
writes the canonical encoding to the one event topic, key = event_id."""
