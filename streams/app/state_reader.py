"""Read the compacted state topic from the beginning to its current end: key -> JSON value
(None = tombstone, the resource must be absent).

Called by `hopsharbor reconcile` and `hopsharbor replay`, which run without the worker's tables.
aiokafka errors are translated here into StateTopicError (terminal for the command: exit code 1).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

__all__ = ["StateTopicError", "read_state"]


class StateTopicError(RuntimeError):
    """The state topic could not be read (broker unreachable, topic missing)."""


async def read_state(bootstrap: str, topic: str, *, timeout: float = 30.0) -> dict[str, str | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        await consumer.topics()  # refresh metadata
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise StateTopicError(f"state topic {topic!r} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        state: dict[str, str | None] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= ends[tp] for tp in tps):
                return state
            if loop.time() > deadline:
                raise StateTopicError(f"timed out reading {topic!r} (at {positions}, end {ends})")
            batches = await consumer.getmany(*tps, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is None:
                        continue
                    key = record.key.decode()
                    state[key] = None if record.value is None else record.value.decode()
    except KafkaError as exc:
        raise StateTopicError(f"cannot read {topic!r} from {bootstrap}: {exc}") from exc
    except TimeoutError as exc:
        raise StateTopicError(f"cannot reach Kafka at {bootstrap} within {timeout}s") from exc
    finally:
        await consumer.stop()
