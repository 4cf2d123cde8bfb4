-- The peer (issue #15): Frontline's public figures from ClickHouse alone, as a user of
-- ClickHouse 18.16 would build them: a Kafka table engine, materialized views, and
-- aggregate-only tables (no event is stored). bench/peer.py fills the placeholders with names
-- it generates and checks, presets the consumer group to the start of the topic (librdkafka
-- starts a new group at the end), then runs the files in order.
--
-- Format: one message = one row of one String column, read as TabSeparated. The engine (18.16)
-- concatenates a block's messages into one stream with kafka_row_delimiter between them:
-- without '\n' every message after the first would run on into the row before. JSONEachRow
-- cannot read the nested `data` object on 18.16 (not into columns, not into a String). TSV
-- unescapes backslash sequences: inside JSON strings `\"` becomes `"`, `\\` `\`, `\u4e2d`
-- `u4e2d`; no number or id the peer reads can hold one. A raw tab or newline between JSON
-- tokens (legal JSON, never sent by Frontline's producers) would fail the block, and 18.16
-- re-reads a failed block forever (there is no kafka_skip_broken_messages yet).
--
-- Settings keep their defaults: a read ends after stream_flush_interval_ms (7.5 s) or when no
-- message came for 500 ms, and the group's offsets are committed then; the rows read are
-- squashed into blocks of up to min_insert_block_size_rows (1,048,576) and pushed to the views
-- after that commit, so the tables can trail the committed offsets by one block.
CREATE TABLE {db}.peer_queue
(
    raw String
)
ENGINE = Kafka
SETTINGS
    kafka_broker_list = '{broker}',
    kafka_topic_list = '{topic}',
    kafka_group_name = '{group}',
    kafka_format = 'TabSeparated',
    kafka_row_delimiter = '\n',
    kafka_num_consumers = {consumers};
