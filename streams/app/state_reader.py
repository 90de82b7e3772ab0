"""Read the compacted state topic from the beginning to its current end: key -> JSON value
(None = tombstone, the resource must be absent).

Called by `hopsharbor reconcile` and `hopsharbor replay` (which run without the worker's tables)
and by tests. A plain synchronous kafka-python consumer without a group, run in a thread: it is
a one-shot read, and kafka-python can list a topic's partitions through its public API. Kafka
errors are translated here into StateTopicError (the commands exit with code 2).
"""

from __future__ import annotations

import asyncio
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

__all__ = ["StateTopicError", "read_state", "read_state_sync"]


class StateTopicError(RuntimeError):
    """The state topic could not be read (broker unreachable, topic missing, too slow)."""


def read_state_sync(bootstrap: str, topic: str, *, timeout: float = 30.0) -> dict[str, str | None]:
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=int(timeout * 1000) + 1000,
        )
    except KafkaError as exc:
        raise StateTopicError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise StateTopicError(f"state topic {topic!r} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        state: dict[str, str | None] = {}
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise StateTopicError(f"timed out reading {topic!r} after {timeout}s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.key is not None:
                        state[record.key.decode()] = None if record.value is None else record.value.decode()
        return state
    except KafkaError as exc:
        raise StateTopicError(f"cannot read {topic!r} from {bootstrap}: {exc}") from exc
    finally:
        consumer.close()


async def read_state(bootstrap: str, topic: str, *, timeout: float = 30.0) -> dict[str, str | None]:
    return await asyncio.to_thread(read_state_sync, bootstrap, topic, timeout=timeout)
