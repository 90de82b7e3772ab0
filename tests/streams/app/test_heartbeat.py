"""The worker reads the connector's heartbeat records (the pipeline heartbeat)."""

from __future__ import annotations

import json

import pytest

from streams.app.agents.heartbeat import heartbeat_seconds

pytestmark = pytest.mark.unit


def test_heartbeat_time_is_read_from_the_connector_record() -> None:
    from connectors.context import OffsetContext
    from connectors.offsets import SourceOffset
    from connectors.streaming import heartbeat_record

    context = OffsetContext(SourceOffset(file="binlog.000001", pos=4, gtids="0-1-5"), is_mariadb=True)
    record = heartbeat_record(context, 1_795_000_000_123)  # what the connector publishes
    assert heartbeat_seconds(record) == pytest.approx(1_795_000_000.123)


@pytest.mark.parametrize(
    "value", [b'{"starting":true}', b"not json", None, json.dumps({"ts_ms": "x"}).encode()]
)
def test_other_records_are_not_heartbeats(value: bytes | None) -> None:
    assert heartbeat_seconds(value) is None
