-- Tamper evidence (docs/audit.md): per topic-partition, a hash chain over the accepted events
-- in offset order, each link SHA-256(previous head || the event's content hash), starting from
-- SHA-256("frontline hash chain v1"). Each checkpoint carries the head after the accepted events
-- up to it, and how many they are: written in the same insert, after every other row of the
-- write, so no extra insert (and part) per write. Checkpoints written before keep '' and 0.
ALTER TABLE {db}.checkpoints ADD COLUMN events UInt64 DEFAULT 0;
ALTER TABLE {db}.checkpoints ADD COLUMN head String DEFAULT '';
