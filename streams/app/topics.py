"""Kafka topics of the worker. Declarations only (applied to an app by create_app).

- CDC topics `<prefix>.<database>.<table>`: written by the connector; read raw (bytes) so that a
  record that is not JSON reaches the dead-letter topic instead of failing in Faust's decoder.
- State topic (compacted): key `StateKey.encode()`, value JSON of the desired state, tombstone =
  the resource must be absent. Created by the worker when missing.
- Dead-letter topic: JSON `streams.app.records.DeadLetter`. Created by the worker when missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TopicT

from streams.settings import Settings

__all__ = ["Topics", "declare_topics"]


@dataclass(frozen=True)
class Topics:
    cdc: dict[str, TopicT]  # table -> topic
    state: TopicT
    dlq: TopicT


def _raw(app: faust.App, name: str, **kwargs: Any) -> TopicT:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", **kwargs
    )


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    return Topics(
        cdc={table: _raw(app, name) for table, name in settings.cdc_topics().items()},
        state=_raw(
            app,
            settings.state_topic,
            internal=True,
            compacting=True,
            partitions=settings.topic_partitions,
            replicas=settings.topic_replication,
        ),
        dlq=_raw(
            app,
            settings.dlq_topic,
            internal=True,
            partitions=1,
            replicas=settings.topic_replication,
        ),
    )
