"""The pipeline heartbeat, worker side: tells a stalled pipeline from an idle database.

The connector publishes a heartbeat record every few seconds to `__hopsharbor-heartbeat.<prefix>`
(connectors/task.py), even when no captured table changes, carrying the connector's time
(`ts_ms`). This agent consumes them and sets hopsharbor_heartbeat_timestamp_seconds to that time,
so `time() - hopsharbor_heartbeat_timestamp_seconds{job="hopsharbor-worker"}` is how long ago the
newest heartbeat left the connector — small while capture and consumption both run, growing when
either stalls, whatever the database does. A record that is not a heartbeat (the connector's
`{"starting": true}`, or anything unreadable) is skipped: heartbeats carry no tenant data, so
nothing goes to the dead-letter topic.
"""

from __future__ import annotations

import json
from typing import Any

import faust
from faust.types import StreamT

from streams.metrics import HEARTBEAT_TIMESTAMP

__all__ = ["heartbeat_topic", "register"]


def heartbeat_topic(topic_prefix: str) -> str:
    """The connector's heartbeat topic (connectors.settings.ConnectorSettings.heartbeat_topic)."""
    return f"__hopsharbor-heartbeat.{topic_prefix}"


def heartbeat_seconds(value: bytes | None) -> float | None:
    """The connector time in a heartbeat record, in seconds; None when the record is not one."""
    try:
        ts_ms = json.loads(value or b"null")["ts_ms"]
    except (ValueError, TypeError, KeyError):
        return None
    return ts_ms / 1000.0 if isinstance(ts_ms, int | float) else None


def register(app: faust.App, topic_prefix: str) -> Any:
    topic = app.topic(
        heartbeat_topic(topic_prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    newest = 0.0  # a replayed (older) heartbeat must not move the gauge back

    @app.agent(topic, name="hopsharbor.heartbeat")
    async def heartbeats(stream: StreamT) -> None:
        nonlocal newest
        async for value in stream:
            seconds = heartbeat_seconds(value)
            if seconds is not None and seconds > newest:
                newest = seconds
                HEARTBEAT_TIMESTAMP.set(seconds)

    return heartbeats
