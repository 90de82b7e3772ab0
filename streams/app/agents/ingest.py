"""Ingest agents: one per CDC table, each handing its records to the shared Ingestor in order.

One agent per table (rather than one over all three topics) so the table is known from the agent
itself, not from a topic name; concurrency 1 each, because a table's events must be applied in
order. The Ingestor's lock serialises the three against the shared tables.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import StreamT, TopicT

from streams.app.ingest import Ingestor
from streams.app.records import Origin

__all__ = ["register"]


def register(app: faust.App, cdc: dict[str, TopicT], ingestor: Ingestor) -> dict[str, Any]:
    agents: dict[str, Any] = {}
    for table, topic in cdc.items():
        agents[f"ingest-{table}"] = _agent(app, table, topic, ingestor)
    return agents


def _agent(app: faust.App, table: str, topic: TopicT, ingestor: Ingestor) -> Any:
    async def ingest(stream: StreamT) -> None:
        async for event in stream.events():
            message = event.message
            origin = Origin(topic=message.topic, partition=message.partition, offset=message.offset)
            await ingestor.handle(table, message.key, message.value, origin)

    return app.agent(topic, name=f"hopsharbor.ingest.{table}", concurrency=1)(ingest)
