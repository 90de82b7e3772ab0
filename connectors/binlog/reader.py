"""The replication connection: registers as a replica, asks for the binlog from a position and turns
packets into connectors.binlog.events.

Why not python-mysql-replication's BinLogStreamReader: with `is_mariadb=True` it ignores
log_file/log_pos, it builds a library event object (and re-parses the table map) for every packet,
and it swallows connection errors by reconnecting from its own in-memory position. This reader
reads packets straight off the socket, parses the handful of fixed-layout events itself, asks
TableMapCache for table maps and decodes rows only for captured tables. The library still parses
every new table map and decodes the column types the fast path does not know.

Errors are not translated here: pymysql errors and socket errors propagate to the caller
(connectors.errors.classify decides retriable vs fatal).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants.COMMAND import COM_BINLOG_DUMP
from pymysql.err import raise_mysql_exception

from connectors.binlog.events import (
    BinlogEvent,
    GtidEvent,
    HeartbeatEvent,
    QueryEvent,
    RotateEvent,
    RowsEvent,
    SkippedTransactionEvent,
    XidEvent,
)
from connectors.binlog.tables import TableInfo, TableMapCache

__all__ = ["BinlogReader", "ReaderConfig", "StartPosition"]

COM_BINLOG_DUMP_GTID = 0x1E

_QUERY, _ROTATE, _FDE, _XID, _TABLE_MAP, _HEARTBEAT = 0x02, 0x04, 0x0F, 0x10, 0x13, 0x1B
_MYSQL_GTID, _MARIADB_GTID = 0x21, 0xA2
_ROWS_OPS = {0x17: "c", 0x18: "u", 0x19: "d", 0x1E: "c", 0x1F: "u", 0x20: "d"}
_ROWS_V2 = {0x1E, 0x1F, 0x20}
_HEADER = struct.Struct("<IBIIIH")
_MARIADB_FL_STANDALONE = 1


@dataclass(frozen=True)
class StartPosition:
    """Where to start reading: a GTID position/set (preferred) or a binlog file and offset."""

    gtids: str | None = None
    file: str | None = None
    pos: int | None = None


@dataclass(frozen=True)
class ReaderConfig:
    host: str
    port: int
    user: str
    password: str
    server_id: int
    database: str
    tables: frozenset[str]
    heartbeat_s: float = 1.0
    read_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    use_gtid: bool = True  # resume by GTID when the offset has one; else by file/pos


class BinlogReader:
    """One replication session. Created by the streaming source for each (re)connection; not reused.

    `events()` yields events until the connection breaks (exception) or `close()` is called.
    """

    def __init__(
        self, config: ReaderConfig, start: StartPosition, connect: Callable[..., Any] = pymysql.connect
    ) -> None:
        self.config = config
        self.start = start
        self._connect = connect
        self._conn: Any = None
        self.is_mariadb = True
        self.use_checksum = False
        self.file = start.file or ""
        self.cache: TableMapCache | None = None
        # Rows events (of any table) read since the current transaction began. Rows events of
        # tables that are not captured are counted here and not yielded at all: the skip path
        # (most of the binlog on a shared server) then costs a header parse and a dict lookup.
        self.rows_in_tx = 0
        self.skipped = 0

    def _captured(self, schema: str, table: str) -> bool:
        return schema == self.config.database and table in self.config.tables

    def open(self) -> None:
        """Connect and send the dump command. Raises pymysql errors (e.g. 1236 once read)."""
        c = self.config
        conn = self._connect(
            host=c.host,
            port=c.port,
            user=c.user,
            password=c.password,
            charset="utf8mb4",
            autocommit=True,
            read_timeout=c.read_timeout_s,
            connect_timeout=c.connect_timeout_s,
        )
        self._conn = conn
        self.is_mariadb = "mariadb" in conn.get_server_info().lower()
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL VARIABLES LIKE 'binlog_checksum'")
            row = cur.fetchone()
            self.use_checksum = bool(row and str(row[1]).upper() != "NONE")
            if self.use_checksum:
                cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
            cur.execute("SET @master_heartbeat_period = %s", (int(c.heartbeat_s * 1e9),))
            # Capability 4: the server sends GTID events (and not dummies) to us.
            cur.execute("SET @mariadb_slave_capability = 4")
            gtid_mode = bool(c.use_gtid and self.start.gtids)
            if self.is_mariadb and gtid_mode:
                cur.execute("SET @slave_connect_state = %s", (self.start.gtids,))
                cur.execute("SET @slave_gtid_strict_mode = 1")
                cur.execute("SET @slave_gtid_ignore_duplicates = 0")
        self.cache = TableMapCache(
            self._captured, "mariadb" if self.is_mariadb else "mysql", self.use_checksum
        )
        if self.is_mariadb and gtid_mode:
            prelude = self._dump_file_pos("", 4)
        elif self.start.file:
            prelude = self._dump_file_pos(self.start.file, self.start.pos or 4)
        elif self.start.gtids:
            prelude = self._dump_mysql_gtid(self.start.gtids)
        else:
            raise ValueError("a start position needs a GTID set or a binlog file")
        conn._write_bytes(prelude)
        conn._next_seq_id = 1

    def _dump_file_pos(self, file: str, pos: int) -> bytes:
        name = file.encode()
        payload = bytes([COM_BINLOG_DUMP]) + struct.pack("<IHI", pos, 0, self.config.server_id) + name
        return struct.pack("<i", len(payload)) + payload

    def _dump_mysql_gtid(self, gtids: str) -> bytes:
        from pymysqlreplication.gtid import GtidSet

        gtid_set = GtidSet(gtids)
        encoded = gtid_set.encoded()
        payload = (
            bytes([COM_BINLOG_DUMP_GTID])
            + struct.pack("<HI", 0x04, self.config.server_id)
            + struct.pack("<I", 3)
            + b"\0\0\0"
            + struct.pack("<Q", 4)
            + struct.pack("<I", len(encoded))
            + encoded
        )
        return struct.pack("<i", len(payload)) + payload

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken replication socket may fail; nothing to do
                pass

    def events(self) -> Iterator[BinlogEvent]:
        """Yield events of interest (TABLE_MAPs are consumed here). Blocks while the binlog is idle;
        the server's heartbeats wake it every heartbeat_s."""
        if self._conn is None:
            self.open()
        conn = self._conn
        cache = self.cache
        assert conn is not None and cache is not None
        rfile = conn._rfile
        read = rfile.read
        unpack_header = _HEADER.unpack_from
        tail = 4 if self.use_checksum else 0
        rows_ops = _ROWS_OPS
        by_id = cache.by_id
        by_body = cache.by_body
        pending: GtidEvent | None = None
        while True:
            # The common case inline (this loop runs for every binlog event of the server):
            # one packet < 16 MiB, not an error, not EOF.
            head = read(4)
            length = head[0] | head[1] << 8 | head[2] << 16 if len(head) == 4 else -1
            if 0 <= length < 0xFFFFFF:
                data = read(length)
                if len(data) < length:
                    raise _lost()
            elif length < 0:
                raise _lost()
            else:
                data = read(length)
                while length == 0xFFFFFF:  # a packet of 16 MiB - 1 is continued by the next one
                    head = read(4)
                    length = head[0] | head[1] << 8 | head[2] << 16
                    data += read(length)
            first = data[0]
            if first:
                if first == 0xFF:
                    raise_mysql_exception(data)
                if first == 0xFE and len(data) < 9:
                    return  # EOF: only in non-blocking mode, which this reader does not use
            ts, etype, server_id, size, next_pos, _flags = unpack_header(data, 1)
            end = len(data) - tail
            pos = next_pos - size if next_pos >= size else 0
            op = rows_ops.get(etype)
            if op is not None:
                info = by_id.get(int.from_bytes(data[20:26], "little"))
                self.rows_in_tx += 1
                if info is None or not info.captured:
                    self.skipped += 1
                    continue
                if pending is not None:
                    yield pending
                    pending = None
                rows = self._decode_rows(data, end, etype, info, op)
                yield RowsEvent(self.file, pos, next_pos, ts, server_id, info, op, rows, self.rows_in_tx - 1)
            elif etype == _TABLE_MAP:
                info = by_body.get(data[20:end])
                if info is None:
                    cache.on_table_map(data, end)
                else:
                    by_id[info.table_id] = info
            elif etype == _MARIADB_GTID:
                self.rows_in_tx = 0
                seq, domain, flags = struct.unpack_from("<QIB", data, 20)
                gtid_event = GtidEvent(
                    self.file,
                    pos,
                    next_pos,
                    ts,
                    server_id,
                    f"{domain}-{server_id}-{seq}",
                    domain,
                    seq,
                    bool(flags & _MARIADB_FL_STANDALONE),
                )
                if gtid_event.standalone:
                    yield gtid_event
                else:
                    # Held back until the transaction shows a captured row or a statement: most
                    # transactions on a shared server touch other tables only, and then a single
                    # SkippedTransactionEvent replaces GTID + XID.
                    pending = gtid_event
            elif etype == _XID:
                self.rows_in_tx = 0
                if pending is not None:
                    yield SkippedTransactionEvent(
                        pending.file,
                        pending.pos,
                        next_pos,
                        ts,
                        server_id,
                        pending.gtid,
                        pending.domain,
                        pending.seq,
                        False,
                    )
                    pending = None
                else:
                    yield XidEvent(self.file, pos, next_pos, ts, server_id)
            elif etype == _MYSQL_GTID:
                self.rows_in_tx = 0
                sid = str(uuid.UUID(bytes=bytes(data[21:37])))
                (gno,) = struct.unpack_from("<q", data, 37)
                yield GtidEvent(self.file, pos, next_pos, ts, server_id, f"{sid}:{gno}", sid, gno, False)
            elif etype == _QUERY:
                if pending is not None:
                    yield pending
                    pending = None
                thread_id, _exec, schema_len, _err, status_len = struct.unpack_from("<IIBHH", data, 20)
                p = 33 + status_len
                schema = bytes(data[p : p + schema_len]).decode("utf-8", "replace")
                query = bytes(data[p + schema_len + 1 : end]).decode("utf-8", "replace")
                yield QueryEvent(self.file, pos, next_pos, ts, server_id, query, schema, thread_id)
            elif etype == _ROTATE:
                (position,) = struct.unpack_from("<Q", data, 20)
                name = bytes(data[28:end]).rstrip(b"\0").decode()
                self.file = name
                yield RotateEvent(name, position, position, ts, server_id, name, position)
            elif etype == _HEARTBEAT:
                yield HeartbeatEvent(self.file, next_pos, next_pos, ts, server_id)

    def _decode_rows(self, data: bytes, end: int, etype: int, info: TableInfo, op: str) -> list[Any]:
        p = 28
        if etype in _ROWS_V2:
            (extra,) = struct.unpack_from("<H", data, p)
            p += extra
        ncols = data[p]
        if ncols >= 251:  # length-encoded; tables here have < 251 columns
            return self.cache.decode_with_library(data, info, op)  # type: ignore[union-attr]
        p += 1
        nb = (ncols + 7) >> 3
        full = _full_bitmap(ncols)
        present = data[p : p + nb]
        p += nb
        if op == "u":
            present2 = data[p : p + nb]
            p += nb
            if present2 != full:
                present = b""
        decode = info.decode_row
        if decode is None or present != full or ncols != len(info.columns):
            return self.cache.decode_with_library(data, info, op)  # type: ignore[union-attr]
        rows: list[Any] = []
        append = rows.append
        if op == "u":
            while p < end:
                before, p = decode(data, p)
                after, p = decode(data, p)
                append((before, after))
        else:
            while p < end:
                row, p = decode(data, p)
                append(row)
        return rows


def _lost() -> pymysql.err.OperationalError:
    return pymysql.err.OperationalError(2013, "Lost connection to MySQL server during binlog read")


_FULL: dict[int, bytes] = {}


def _full_bitmap(ncols: int) -> bytes:
    bm = _FULL.get(ncols)
    if bm is None:
        value = (1 << ncols) - 1
        bm = _FULL[ncols] = value.to_bytes((ncols + 7) >> 3, "little")
    return bm
