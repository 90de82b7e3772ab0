"""Stores offsets, in this order (the order is the guarantee):

1. flush the producer: every event published so far is acknowledged (acks=all), or the flush
   raises RetriableError and nothing is stored;
2. check the lease: an instance that lost it must not move the offsets of the one that has it;
3. send the offset record (acknowledged by the next flush; losing it only means more replay);
4. move counts and positions to the metrics.

Called by the snapshot and streaming sources: `due()` after each published unit, `commit()` when
due and at the end (forced).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors import metrics
from connectors.offsets import SourceOffset

__all__ = ["Checkpointer"]


class Checkpointer:
    def __init__(
        self,
        sink: Any,
        store: Any,
        lease: Any,
        dispatcher: Any,
        interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._store = store
        self._lease = lease
        self._dispatcher = dispatcher
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._next = monotonic() + interval_s
        self.last: SourceOffset | None = None
        self.skipped_events = 0

    def due(self) -> bool:
        return self._monotonic() >= self._next

    def commit(self, offset: SourceOffset) -> None:
        self._sink.flush()
        if self._lease is not None:
            self._lease.check()
        if self.last is None or offset.with_(ts_ms=0) != self.last.with_(ts_ms=0):
            self._store.store(offset)
            self.last = offset
            metrics.OFFSET_COMMITS.inc()
            if offset.file:
                metrics.BINLOG_POSITION.clear()
                metrics.BINLOG_POSITION.labels(file=offset.file).set(offset.pos or 0)
            for part in (offset.gtids or "").split(","):
                bits = part.strip().rsplit("-", 1) if "-" in part and ":" not in part else None
                if bits:
                    domain = part.split("-", 1)[0]
                    metrics.GTID_SEQUENCE.labels(domain=domain).set(int(bits[1]))
        self._dispatcher.publish_metrics()
        if self.skipped_events:
            metrics.SKIPPED_EVENTS.inc(self.skipped_events)
            self.skipped_events = 0
        self._next = self._monotonic() + self.interval_s
