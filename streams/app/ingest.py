"""Ingestor: one CDC record in -> working tables updated, changed desired states on the state topic.

Called by the ingest agents (one per CDC table) for every record, in partition order. Steps:

  1. parse the Debezium envelope; a tombstone is counted and ignored; a malformed record goes to
     the dead-letter topic with its reason and original bytes (and a metric), and processing goes on;
  2. under one lock (the three agents share the tables): fold the event into the mirror, send each
     changed desired state to the state topic (key `StateKey.encode()`, JSON value or tombstone,
     header `hopsharbor-origin`), and only then record it in the `desired` table — so a crash
     between the two replays the event and emits again rather than losing the change.

Faust commits the CDC offset only after the producer has flushed these sends (at-least-once).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

from streams import metrics
from streams.app.records import DeadLetter, Origin
from streams.app.runner import DeadLetterSink
from streams.mapping import Emission, MalformedEvent, Mirror, parse_change_event

__all__ = ["Ingestor", "StateSink"]

StateSink = Callable[[Emission, Origin], Awaitable[None]]


def _b64(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()


class Ingestor:
    def __init__(
        self,
        mirror: Mirror,
        send_state: StateSink,
        dead_letter: DeadLetterSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mirror = mirror
        self._send_state = send_state
        self._dead_letter = dead_letter
        self._clock = clock
        self._lock = asyncio.Lock()

    async def handle(
        self, table: str, key: bytes | str | None, value: bytes | str | None, origin: Origin
    ) -> list[Emission]:
        """Apply one CDC record of `table`; returns what was sent to the state topic."""
        try:
            event = parse_change_event(table, key, value)
        except MalformedEvent as exc:
            metrics.WORKER_EVENTS.labels(table, "malformed").inc()
            await self._reject(exc, key, value, origin)
            return []
        if event is None:
            metrics.WORKER_EVENTS.labels(table, "tombstone").inc()
            return []
        metrics.WORKER_EVENTS.labels(table, event.op).inc()
        origin = origin.model_copy(update={"source_ts_ms": event.source_ts_ms})
        async with self._lock:
            try:
                emissions = self.mirror.apply(event, record=False)
            except MalformedEvent as exc:
                await self._reject(exc, key, value, origin)
                return []
            for emission in emissions:
                await self._send_state(emission, origin)
            self.mirror.record(emissions)
        return emissions

    async def _reject(
        self, exc: MalformedEvent, key: bytes | str | None, value: bytes | str | None, origin: Origin
    ) -> None:
        await self._dead_letter(
            DeadLetter(
                stage="ingest",
                reason=exc.reason,
                error=exc.message,
                origin=origin,
                raw_key=_b64(key),
                raw_value=_b64(value),
                at=self._clock(),
            )
        )
        metrics.DLQ_RECORDS.labels(exc.reason).inc()
