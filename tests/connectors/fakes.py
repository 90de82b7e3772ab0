"""Test doubles injected through the connector's seams (sink, offset store, lease, reader factory)."""

from __future__ import annotations

import json
from typing import Any

from connectors.binlog import GtidEvent, QueryEvent, RotateEvent, RowsEvent, XidEvent
from connectors.binlog.tables import TableInfo


class RecordingSink:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        self.calls: list[str] = []
        self.fail_flush: Exception | None = None

    def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.records.append((topic, key, value))
        self.calls.append(f"send:{topic}")

    def flush(self, timeout_s: float | None = None) -> None:
        self.calls.append("flush")
        if self.fail_flush is not None:
            raise self.fail_flush

    def events(self, topic_suffix: str = "") -> list[dict[str, Any] | None]:
        return [
            json.loads(v) if v is not None else None
            for t, _k, v in self.records
            if t.endswith(topic_suffix) and "offsets" not in t
        ]


class MemoryStore:
    def __init__(self, sink: RecordingSink | None = None) -> None:
        self.stored: list[Any] = []
        self.sink = sink

    def store(self, offset: Any) -> None:
        self.stored.append(offset)
        if self.sink is not None:
            self.sink.calls.append("store")


class NoLease:
    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1


USERS = TableInfo(42, "db", "users", True, ("uid", "email"), (3, 15), ("uid",))
OTHER = TableInfo(43, "db", "other", False)


class ScriptedReader:
    """Plays a fixed list of events; `started_at` records the StartPosition it was asked for."""

    is_mariadb = True

    def __init__(self, events: list[Any]) -> None:
        self._events = events
        self.started_at: Any = None

    def open(self) -> None:
        pass

    def events(self):  # type: ignore[no-untyped-def]
        yield from self._events

    def close(self) -> None:
        pass


def tx(seq: int, pos: int, *rows_events: tuple[str, TableInfo, list[Any] | None]) -> list[Any]:
    """A MariaDB transaction: GTID, rows events, XID, each event 100 bytes long."""
    f = "binlog.000001"
    out: list[Any] = [GtidEvent(f, pos, pos + 100, 1700000000, 1, f"0-1-{seq}", 0, seq, False)]
    p = pos + 100
    for op, table, rows in rows_events:
        out.append(RowsEvent(f, p, p + 100, 1700000000, 1, table, op, rows))
        p += 100
    out.append(XidEvent(f, p, p + 100, 1700000000, 1))
    return out


def rotate(name: str, pos: int = 4, ts: int = 0) -> RotateEvent:
    return RotateEvent(name, pos, pos, ts, 1, name, pos)


def ddl(seq: int, pos: int, sql: str) -> list[Any]:
    f = "binlog.000001"
    return [
        GtidEvent(f, pos, pos + 100, 1700000000, 1, f"0-1-{seq}", 0, seq, True),
        QueryEvent(f, pos + 100, pos + 200, 1700000000, 1, sql, "db", 9),
    ]
