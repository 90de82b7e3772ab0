"""The binlog events the connector acts on (declarations only).

Every event carries where it is: `pos` (its start offset in `file`), `next_pos` (the offset right
after it, where a resume would continue) and `ts` (the server's timestamp, in seconds). Plain
__slots__ classes rather than dataclasses: one is created per binlog event, so construction cost
matters for the skip path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.binlog.tables import TableInfo

__all__ = [
    "BinlogEvent",
    "GtidEvent",
    "HeartbeatEvent",
    "QueryEvent",
    "RotateEvent",
    "RowsEvent",
    "SkippedTransactionEvent",
    "XidEvent",
]


class BinlogEvent:
    __slots__ = ("file", "pos", "next_pos", "ts", "server_id")

    def __init__(self, file: str, pos: int, next_pos: int, ts: int, server_id: int) -> None:
        self.file = file
        self.pos = pos
        self.next_pos = next_pos
        self.ts = ts
        self.server_id = server_id

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({self.file}:{self.pos}, {fields})"


class GtidEvent(BinlogEvent):
    """Start of a transaction. MariaDB: `domain-server-seq`; MySQL: `uuid:gno`.

    `standalone` (MariaDB FL_STANDALONE) means no XID/COMMIT follows: the next event is the whole
    transaction (DDL). MySQL DDL likewise has no BEGIN: the streaming source tracks that itself.
    """

    __slots__ = ("gtid", "domain", "seq", "standalone")

    def __init__(
        self,
        file: str,
        pos: int,
        next_pos: int,
        ts: int,
        server_id: int,
        gtid: str,
        domain: int | str,
        seq: int,
        standalone: bool,
    ) -> None:
        super().__init__(file, pos, next_pos, ts, server_id)
        self.gtid = gtid
        self.domain = domain
        self.seq = seq
        self.standalone = standalone


class XidEvent(BinlogEvent):
    """Commit of a transactional (InnoDB) transaction."""

    __slots__ = ()


class QueryEvent(BinlogEvent):
    """A statement logged as text: BEGIN, COMMIT, ROLLBACK, or DDL."""

    __slots__ = ("query", "schema", "thread_id")

    def __init__(
        self,
        file: str,
        pos: int,
        next_pos: int,
        ts: int,
        server_id: int,
        query: str,
        schema: str,
        thread_id: int,
    ) -> None:
        super().__init__(file, pos, next_pos, ts, server_id)
        self.query = query
        self.schema = schema
        self.thread_id = thread_id


class RotateEvent(BinlogEvent):
    """The stream continues in `next_file` at `position` (also sent first, as a fake rotate)."""

    __slots__ = ("next_file", "position")

    def __init__(
        self, file: str, pos: int, next_pos: int, ts: int, server_id: int, next_file: str, position: int
    ) -> None:
        super().__init__(file, pos, next_pos, ts, server_id)
        self.next_file = next_file
        self.position = position


class HeartbeatEvent(BinlogEvent):
    """Sent by the server when the binlog is idle for the heartbeat period."""

    __slots__ = ()


class RowsEvent(BinlogEvent):
    """One WRITE/UPDATE/DELETE rows event.

    `op` is "c", "u" or "d". `rows` holds, per row, the after image ("c"), the before image ("d")
    or a (before, after) pair ("u"), as column-name -> JSON-ready value dicts. For a table that is
    not captured, `rows` is None: it was never decoded.
    """

    __slots__ = ("table", "op", "rows", "index")

    def __init__(
        self,
        file: str,
        pos: int,
        next_pos: int,
        ts: int,
        server_id: int,
        table: TableInfo,
        op: str,
        rows: list[Any] | None,
        index: int = -1,
    ) -> None:
        super().__init__(file, pos, next_pos, ts, server_id)
        self.table = table
        self.op = op
        self.rows = rows
        self.index = index  # position among the rows events of its transaction (-1: unknown)


class SkippedTransactionEvent(GtidEvent):
    """A whole transaction without rows of captured tables nor statements (GTID ... XID):
    `pos` is where it starts, `next_pos` where the next one starts."""

    __slots__ = ()
