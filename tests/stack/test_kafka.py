"""Kafka of the local stack is a real broker: compaction runs and data survives a restart."""

from __future__ import annotations

import subprocess
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from tests.conftest import REPO, Stack

pytestmark = pytest.mark.integration


def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    try:
        return [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()


def test_compacted_topic_drops_old_value_and_survives_restart(stack: Stack, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.compacted"
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    admin.create_topics(
        [
            NewTopic(
                topic,
                1,
                1,
                topic_configs={
                    "cleanup.policy": "compact",
                    "segment.ms": "100",
                    "min.cleanable.dirty.ratio": "0.01",
                    "min.compaction.lag.ms": "0",
                    "delete.retention.ms": "100",
                },
            )
        ]
    )
    admin.close()
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)

    def send(key: bytes, value: bytes) -> None:
        producer.send(topic, key=key, value=value).get(timeout=10)

    send(b"project/demo", b"old")
    time.sleep(0.3)  # segments roll only on append once segment.ms has passed
    send(b"project/demo", b"new")
    # Compaction never touches the active segment: keep appending filler so the segment holding
    # "new" is closed too, until the cleaner has dropped "old".
    deadline = time.monotonic() + 60
    while True:
        time.sleep(0.3)
        send(b"filler", b"x")
        values = [v for k, v in _read_all(stack.kafka_bootstrap, topic) if k == b"project/demo"]
        if values == [b"new"]:
            break
        assert time.monotonic() < deadline, f"old value never compacted away: {values}"
    producer.close()

    for action in ("down", "up"):
        subprocess.run([str(REPO / "deploy/local/stack"), action, "kafka"], check=True, timeout=120)

    records = _read_all(stack.kafka_bootstrap, topic)
    assert [v for k, v in records if k == b"project/demo"] == [b"new"]
