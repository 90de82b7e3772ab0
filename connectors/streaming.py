"""Streaming: binlog events -> change events, with positions kept for exact restarts.

Run by the task after the snapshot (or without one). Dispatches each binlog event through
HANDLERS by its class. Transactions start at a GTID event (or BEGIN) and end at XID, COMMIT, or
after the single statement of a standalone (DDL) transaction; the OffsetContext follows them.

Restart inside a transaction: the offset names the transaction start plus `event` rows events and
`row` rows already published; the reader resumes at that start and this source skips exactly that
much of the first transaction — rows events of tables that are not captured count too, so the
count does not depend on the configuration.

Stops when `stop_requested()` is true (checked after every event; the server's heartbeats wake
the reader at least every mysql_heartbeat_s) or when `stop_when(context)` is true at a commit
(benchmarks and tests).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from connectors.binlog import (
    BinlogEvent,
    GtidEvent,
    HeartbeatEvent,
    QueryEvent,
    RotateEvent,
    RowsEvent,
    SkippedTransactionEvent,
    StartPosition,
    XidEvent,
)
from connectors.checkpoint import Checkpointer
from connectors.context import OffsetContext
from connectors.dispatcher import EventDispatcher, SourceInfo
from connectors.offsets import SourceOffset

__all__ = ["StreamingSource"]

log = logging.getLogger(__name__)

_COMMIT_QUERIES = ("COMMIT", "ROLLBACK")


class StreamingSource:
    HANDLERS: dict[type[BinlogEvent], str] = {
        GtidEvent: "_on_gtid",
        QueryEvent: "_on_query",
        RowsEvent: "_on_rows",
        XidEvent: "_on_commit",
        SkippedTransactionEvent: "_on_skipped_transaction",
        RotateEvent: "_on_rotate",
        HeartbeatEvent: "_on_heartbeat",
    }

    def __init__(
        self,
        reader_factory: Callable[[StartPosition], Any],
        dispatcher: EventDispatcher,
        checkpointer: Checkpointer,
        stop_requested: Callable[[], bool],
        heartbeat: Callable[[OffsetContext], None] | None = None,
        heartbeat_interval_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        stop_when: Callable[[OffsetContext], bool] | None = None,
        on_alive: Callable[[], None] | None = None,
        database: str = "",
    ) -> None:
        self._reader_factory = reader_factory
        self._dispatcher = dispatcher
        self._checkpointer = checkpointer
        self._stop_requested = stop_requested
        self._heartbeat = heartbeat
        self._heartbeat_interval_s = heartbeat_interval_s
        self._clock = clock
        self._monotonic = monotonic
        self._stop_when = stop_when
        self._on_alive = on_alive or (lambda: None)
        self._database = database
        self._ctx: OffsetContext | None = None
        self._src = SourceInfo()
        self._explicit = False  # inside BEGIN ... COMMIT (or a MariaDB non-standalone GTID)
        self._done = False

    @property
    def context(self) -> OffsetContext | None:
        return self._ctx

    def offset(self) -> SourceOffset:
        assert self._ctx is not None
        return self._ctx.offset(int(self._clock() * 1000))

    def run(self, start: SourceOffset) -> SourceOffset:
        """Stream from `start` until stopped; returns the last offset stored. Errors propagate
        (the task classifies them); the offset stored before them is where a restart resumes."""
        reader = self._reader_factory(StartPosition(gtids=start.gtids, file=start.file, pos=start.pos))
        try:
            reader.open()
            self._ctx = ctx = OffsetContext(start, reader.is_mariadb)
            log.info("streaming from %s (%s)", start.describe(), "MariaDB" if reader.is_mariadb else "MySQL")
            handlers = {cls: getattr(self, name) for cls, name in self.HANDLERS.items()}
            due = self._checkpointer.due
            stop = self._stop_requested
            next_heartbeat = self._monotonic() + self._heartbeat_interval_s
            for ev in reader.events():
                handlers[type(ev)](ev)
                if self._done or stop():
                    break
                if due():
                    self._sync_event_count(reader)
                    self._checkpointer.commit(ctx.offset(int(self._clock() * 1000)))
                    self._on_alive()
                    if self._heartbeat is not None and self._monotonic() >= next_heartbeat:
                        self._heartbeat(ctx)
                        next_heartbeat = self._monotonic() + self._heartbeat_interval_s
            self._sync_event_count(reader)
            final = ctx.offset(int(self._clock() * 1000))
            self._checkpointer.commit(final)
            return final
        finally:
            reader.close()

    def _sync_event_count(self, reader: Any) -> None:
        """Count the rows events of other tables that the reader consumed without yielding them
        (after the last handled event, so every event counted is fully processed)."""
        ctx = self._ctx
        assert ctx is not None
        if ctx.in_tx:
            ctx.event = max(ctx.event, getattr(reader, "rows_in_tx", 0))
        skipped = getattr(reader, "skipped", 0)
        if skipped:
            self._checkpointer.skipped_events += skipped
            reader.skipped = 0

    # -- handlers ---------------------------------------------------------------------------

    def _on_gtid(self, ev: GtidEvent) -> None:
        assert self._ctx is not None
        self._ctx.begin(ev.file, ev.pos, ev.gtid, ev.ts, ev.server_id)
        # MariaDB: a non-standalone GTID opens a transaction that ends in XID/COMMIT (no BEGIN
        # follows); MySQL: a BEGIN query will say so, DDL has none.
        self._explicit = isinstance(ev.domain, int) and not ev.standalone
        src = self._src
        src.gtid = ev.gtid
        src.thread = None
        src.server_id = ev.server_id

    def _on_query(self, ev: QueryEvent) -> None:
        ctx = self._ctx
        assert ctx is not None
        query = ev.query.strip()
        if query == "BEGIN":
            if not ctx.in_tx:
                ctx.begin(ev.file, ev.pos, None, ev.ts, ev.server_id)
                self._src.gtid = None
            self._explicit = True
            self._src.thread = ev.thread_id
            return
        if query.upper() in _COMMIT_QUERIES or query.upper().startswith("XA COMMIT"):
            self._on_commit(ev)
            return
        self._src.thread = ev.thread_id
        if not self._explicit:  # DDL: a transaction of its own
            if not ctx.in_tx:
                ctx.begin(ev.file, ev.pos, None, ev.ts, ev.server_id)
            log.log(
                logging.INFO if ev.schema == self._database else logging.DEBUG,
                "DDL at %s:%s: %s",
                ev.file,
                ev.pos,
                query[:200],
            )
            self._on_commit(ev)

    def _on_rows(self, ev: RowsEvent) -> None:
        ctx = self._ctx
        assert ctx is not None
        if not ctx.in_tx:  # rows without a transaction start (not produced by known servers)
            ctx.begin(ev.file, ev.pos, None, ev.ts, ev.server_id)
        index = ev.index if ev.index >= 0 else ctx.event
        rows = ev.rows
        if rows is None:
            self._checkpointer.skipped_events += 1
            ctx.event = index + 1
            return
        if index < ctx.skip_events:  # published before the restart
            ctx.event = index + 1
            return
        first_row = ctx.skip_rows if index == ctx.skip_events else 0
        src = self._src
        src.ts_ms = ev.ts * 1000
        src.file = ev.file
        src.pos = ev.pos
        src.server_id = ev.server_id
        table = ev.table
        name, pk, op = table.table, table.primary_key, ev.op
        emit = self._dispatcher.emit
        for r in range(first_row, len(rows)):
            src.row = r
            if op == "c":
                emit(name, pk, "c", None, rows[r], src)
            elif op == "d":
                emit(name, pk, "d", rows[r], None, src)
            else:
                before, after = rows[r]
                emit(name, pk, "u", before, after, src)
            ctx.row = r + 1
            if r & 0xFF == 0xFF and self._checkpointer.due():
                self._checkpointer.commit(ctx.offset(int(self._clock() * 1000)))
        ctx.event = index + 1
        ctx.row = 0

    def _on_commit(self, ev: BinlogEvent) -> None:
        ctx = self._ctx
        assert ctx is not None
        ctx.commit(ev.file, ev.next_pos)
        self._explicit = False
        if self._stop_when is not None and self._stop_when(ctx):
            self._done = True

    def _on_skipped_transaction(self, ev: SkippedTransactionEvent) -> None:
        ctx = self._ctx
        assert ctx is not None
        ctx.skip_transaction(ev.gtid, ev.file, ev.next_pos, ev.server_id)
        if self._stop_when is not None and self._stop_when(ctx):
            self._done = True

    def _on_rotate(self, ev: RotateEvent) -> None:
        assert self._ctx is not None
        # A fake rotate (ts 0) opens every dump; in GTID mode its position is 4 although the server
        # then skips to the requested GTID: it must not move a position we already know.
        if ev.ts != 0 or not self._ctx.file:
            self._ctx.rotate(ev.next_file, ev.position)

    def _on_heartbeat(self, ev: HeartbeatEvent) -> None:
        self._on_alive()
        # An idle stream: a stop condition that became true after the last commit is seen here.
        if self._stop_when is not None and self._ctx is not None and not self._ctx.in_tx:
            self._done = self._stop_when(self._ctx)


def heartbeat_record(ctx: OffsetContext, now_ms: int) -> bytes:
    return json.dumps({"ts_ms": now_ms, "gtids": ctx.gtids, "file": ctx.file, "pos": ctx.pos}).encode()
