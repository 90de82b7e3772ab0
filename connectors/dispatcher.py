"""Builds Debezium MySQL-connector envelopes and hands them to the sink.

Called by the snapshot source (op "r") and the streaming source (c/u/d) for every row change;
it never talks to MySQL and keeps no position: the sources own the offsets. Topic per table:
`<prefix>.<db>.<table>`; key = the primary-key columns as a JSON object (null without a primary
key); value = {before, after, source, op, ts_ms, transaction}; a tombstone (same key, null value)
follows every delete so that compaction can forget the key.

The JSON text is assembled from pre-encoded pieces: the per-table part of `source` is encoded
once, so each event costs one json encode of its row images. Event counts are kept in a plain
dict and moved to Prometheus by `publish_metrics()` at each checkpoint (a labelled counter
increment per event would cost as much as the encoding).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from connectors import metrics

__all__ = ["EventDispatcher", "SourceInfo", "CONNECTOR_VERSION"]

CONNECTOR_VERSION = "hopsharbor-0.1.0"

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class SourceInfo:
    """The varying part of `source`, updated in place by the sources as they go."""

    __slots__ = ("ts_ms", "snapshot", "server_id", "gtid", "file", "pos", "row", "thread")

    def __init__(self) -> None:
        self.ts_ms = 0
        self.snapshot = "false"
        self.server_id = 0
        self.gtid: str | None = None
        self.file = ""
        self.pos = 0
        self.row = 0
        self.thread: int | None = None


class EventDispatcher:
    def __init__(
        self,
        sink: Any,
        topic_prefix: str,
        database: str,
        connector_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink = sink
        self._prefix = topic_prefix
        self._db = database
        self._clock = clock
        self._per_table: dict[str, tuple[str, str]] = {}
        self._head = (
            f'{{"version":{_encode(CONNECTOR_VERSION)},"connector":"mysql",'
            f'"name":{_encode(connector_name)},"ts_ms":'
        )
        self.counts: dict[tuple[str, str], int] = {}
        self.last_source_ts_ms = 0
        self._file = ""
        self._file_json = '""'

    def topic_for(self, table: str) -> str:
        return f"{self._prefix}.{self._db}.{table}"

    def _table(self, table: str) -> tuple[str, str]:
        entry = self._per_table.get(table)
        if entry is None:
            entry = (self.topic_for(table), f'"db":{_encode(self._db)},"table":{_encode(table)},')
            self._per_table[table] = entry
        return entry

    def emit(
        self,
        table: str,
        key_columns: tuple[str, ...],
        op: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        src: SourceInfo,
    ) -> None:
        topic, table_part = self._table(table)
        image = after if after is not None else before
        assert image is not None
        key = _encode({c: image[c] for c in key_columns}).encode() if key_columns else None
        gtid = "null" if src.gtid is None else '"' + src.gtid + '"'
        thread = "null" if src.thread is None else str(src.thread)
        if src.file != self._file:
            self._file, self._file_json = src.file, _encode(src.file)
        source = (
            f'{self._head}{src.ts_ms},"snapshot":"{src.snapshot}",{table_part}'
            f'"server_id":{src.server_id},"gtid":{gtid},"file":{self._file_json},'
            f'"pos":{src.pos},"row":{src.row},"thread":{thread},"query":null}}'
        )
        value = (
            f'{{"before":{"null" if before is None else _encode(before)},'
            f'"after":{"null" if after is None else _encode(after)},"source":{source},'
            f'"op":"{op}","ts_ms":{int(self._clock() * 1000)},"transaction":null}}'
        )
        self._sink.send(topic, key, value.encode())
        if op == "d" and key is not None:
            self._sink.send(topic, key, None)
        k = (table, op)
        self.counts[k] = self.counts.get(k, 0) + 1
        self.last_source_ts_ms = src.ts_ms

    def publish_metrics(self) -> None:
        """Called by the checkpoint: move the event counts to Prometheus and set the capture lag."""
        counts, self.counts = self.counts, {}
        for (table, op), n in counts.items():
            metrics.EVENTS.labels(table=table, op=op).inc(n)
        if counts and self.last_source_ts_ms:
            metrics.CAPTURE_LAG.set(max(0.0, self._clock() - self.last_source_ts_ms / 1000.0))
