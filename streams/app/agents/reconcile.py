"""Reconcile agent: every state-topic record marks its key dirty; the KeyedRunner reconciles it.

`concurrency` actors share the topic's queue, so up to that many keys are reconciled at once
(the runner keeps one reconcile per key). An actor awaits its reconcile, so the state-topic offset
is committed only once the key was reconciled, dead-lettered or handed to a background retry
(those are redone by the startup resync after a crash).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import StreamT, TopicT

from streams.app.records import ORIGIN_HEADER, Origin
from streams.app.runner import KeyedRunner

__all__ = ["origin_of", "register"]


def origin_of(headers: Any, topic: str, partition: int, offset: int) -> Origin:
    """The origin carried in the record's header; this record's own position when absent."""
    raw = dict(headers or {}).get(ORIGIN_HEADER)
    if raw:
        try:
            return Origin.model_validate_json(raw)
        except ValueError:
            pass
    return Origin(topic=topic, partition=partition, offset=offset)


def register(app: faust.App, state: TopicT, runner: KeyedRunner) -> dict[str, Any]:
    async def reconcile(stream: StreamT) -> None:
        async for event in stream.events():
            message = event.message
            if message.key is None:
                continue
            key = message.key.decode() if isinstance(message.key, bytes) else str(message.key)
            await runner.run(
                key, origin_of(message.headers, message.topic, message.partition, message.offset)
            )

    agent = app.agent(state, name="hopsharbor.reconcile", concurrency=runner.parallelism)(reconcile)
    return {"reconcile": agent}
