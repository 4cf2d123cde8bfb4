"""What a worker does before it consumes, in order, each step waiting (for at most
FRONTLINE_STARTUP_TIMEOUT) while Kafka or ClickHouse is still starting:

1. both services answer;
2. the topics exist as declared (`frontline topics ensure`);
3. the schema is migrated and the shift auto-close limit recorded (`frontline migrate`);
4. with no other member running, the consumer group is moved to the ClickHouse checkpoints
   (a database dropped or restored while the group's offsets stayed would else skip events).
"""

from __future__ import annotations

from projections import migrate
from streams import topic_admin
from streams.settings import Settings, check_clickhouse_reachable, check_kafka_reachable
from streams.startup import retrying
from streams.worker.lag import align_group_to_checkpoints


def prepare(settings: Settings) -> str:
    """Run the start-up sequence; returns what it did to the consumer group."""
    wait = settings.startup_timeout
    retrying("Kafka", lambda: check_kafka_reachable(settings), wait)
    retrying("ClickHouse", lambda: check_clickhouse_reachable(settings), wait)
    retrying("topics ensure", lambda: topic_admin.ensure(settings), wait)
    auto_close_s = int(settings.auto_close_hours * 3600)
    retrying("migrate", lambda: migrate.apply(settings.clickhouse, auto_close_s=auto_close_s), wait)
    return retrying("consumer group", lambda: align_group_to_checkpoints(settings), wait)
