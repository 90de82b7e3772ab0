"""The initial snapshot: every row of the captured tables as op "r", consistent with a binlog position.

Consistency: the SELECTs run inside one `START TRANSACTION WITH CONSISTENT SNAPSHOT`, and the
binlog position is read inside that same transaction — MariaDB reports the binlog position of the
snapshot itself (`Binlog_snapshot_file/position`, turned into a GTID position by BINLOG_GTID_POS),
so no lock is taken; on MySQL a brief FLUSH TABLES WITH READ LOCK brackets the start of the
transaction and SHOW MASTER STATUS. Streaming then starts at that position: every change
committed after the snapshot is streamed, none before it.

Progress and restarts: rows are read table by table in primary-key order with an unbuffered
cursor, and the checkpoint stores (table, last primary key) with snapshot="running" while the
snapshot position stays in file/pos/gtids. A restart continues after that key in a *new*
consistent transaction and then streams from the *original* position, so rows published again
are only those after the stored key; rows read by the continuation may be newer than the original
position, which the replayed binlog then brings forward again (per key, the last event is the
table's state).

Source markers: source.snapshot is "first" on the first row, "last" on the last, "true" between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymysql.cursors import SSCursor

from connectors import metrics
from connectors import values as V
from connectors.checkpoint import Checkpointer
from connectors.dispatcher import EventDispatcher, SourceInfo
from connectors.errors import FatalError
from connectors.offsets import SourceOffset

__all__ = ["SnapshotSource", "TableSchema", "snapshot_converter"]

log = logging.getLogger(__name__)

_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


class TableSchema:
    def __init__(
        self,
        name: str,
        columns: list[tuple[str, str, int]],
        primary_key: tuple[str, ...],
        estimated_rows: int,
    ) -> None:
        self.name = name
        self.columns = columns  # (name, data_type, datetime_precision)
        self.primary_key = primary_key
        self.estimated_rows = estimated_rows


def snapshot_converter(data_type: str, precision: int) -> Callable[[Any], Any]:
    """The per-column conversion of a value read by pymysql to the event's JSON value
    (the same values the binlog decoder writes: connectors.values)."""
    t = data_type.lower()
    if t == "timestamp":
        return lambda v: V.format_timestamp(v, precision) if hasattr(v, "microsecond") else None
    if t == "datetime":
        return lambda v: V.datetime_to_epoch(v, precision) if hasattr(v, "microsecond") else None
    if t == "date":
        return lambda v: V.date_to_days(v) if hasattr(v, "toordinal") else None
    if t == "time":
        return lambda v: V.timedelta_to_micros(v) if hasattr(v, "days") else v
    if t == "decimal":
        return lambda v: V.decimal_to_str(v) if v is not None else None
    if t == "bit":
        return lambda v: int.from_bytes(v, "big") if isinstance(v, bytes) else v
    if t in _BINARY_TYPES:
        return lambda v: V.bytes_to_b64(v) if isinstance(v, bytes) else v
    if t == "set":
        return lambda v: ",".join(sorted(v)) if isinstance(v, set) else v

    def plain(v: Any) -> Any:
        if isinstance(v, bytes):
            return V.bytes_to_b64(v)
        return v

    return plain


class SnapshotSource:
    """Run by the task when the snapshot mode asks for one; returns the offset to stream from, or
    None when stopped (SIGTERM) before the end."""

    def __init__(
        self,
        connect: Callable[[], Any],
        database: str,
        tables: Sequence[str],
        dispatcher: EventDispatcher,
        checkpointer: Checkpointer,
        stop_requested: Callable[[], bool],
        clock: Callable[[], float] = time.time,
        fetch_rows: int = 2000,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self._connect = connect
        self._db = database
        self._tables = list(tables)
        self._dispatcher = dispatcher
        self._checkpointer = checkpointer
        self._stop_requested = stop_requested
        self._clock = clock
        self._fetch_rows = fetch_rows
        self._on_progress = on_progress or (lambda _msg: None)

    def run(self, resume: SourceOffset | None) -> SourceOffset | None:
        conn = self._connect()
        try:
            return self._run(conn, resume)
        finally:
            try:
                conn.rollback()
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may be the thing that broke
                pass

    # -- steps ------------------------------------------------------------------------------

    def _begin(self, conn: Any) -> tuple[str, int, str | None, int, bool]:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SELECT @@version, @@server_id")
            version, server_id = cur.fetchone()
            mariadb = "mariadb" in str(version).lower()
            if mariadb:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
                status = {k.lower(): v for k, v in cur.fetchall()}
                file = status["binlog_snapshot_file"]
                pos = int(status["binlog_snapshot_position"])
                cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
                (gtids,) = cur.fetchone()
            else:
                cur.execute("FLUSH TABLES WITH READ LOCK")
                try:
                    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    try:
                        cur.execute("SHOW BINARY LOG STATUS")
                    except Exception:  # noqa: BLE001 - older servers
                        cur.execute("SHOW MASTER STATUS")
                    row = cur.fetchone()
                    if row is None:
                        raise FatalError("binary logging is off on the server", "config")
                    file, pos = row[0], int(row[1])
                    gtids = row[4] if len(row) > 4 else None
                finally:
                    cur.execute("UNLOCK TABLES")
        return file, pos, (gtids or None), int(server_id), mariadb

    def _schema(self, conn: Any, table: str) -> TableSchema | None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, COALESCE(DATETIME_PRECISION, 0)"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s"
                " ORDER BY ORDINAL_POSITION",
                (self._db, table),
            )
            columns = [(str(n), str(t), int(p)) for n, t, p in cur.fetchall()]
            if not columns:
                return None
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA=%s"
                " AND TABLE_NAME=%s AND CONSTRAINT_NAME='PRIMARY' ORDER BY ORDINAL_POSITION",
                (self._db, table),
            )
            pk = tuple(str(r[0]) for r in cur.fetchall())
            cur.execute(
                "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s"
                " AND TABLE_NAME=%s",
                (self._db, table),
            )
            (estimate,) = cur.fetchone()
        return TableSchema(table, columns, pk, int(estimate))

    def _run(self, conn: Any, resume: SourceOffset | None) -> SourceOffset | None:
        file, pos, gtids, server_id, _mariadb = self._begin(conn)
        started_ms = int(self._clock() * 1000)
        if resume is not None and resume.snapshot == "running":
            base = resume.with_(event=0, row=0)
            after_table, after_key = resume.snapshot_table, resume.snapshot_key
            log.info(
                "snapshot: continuing after %s %s (position %s)", after_table, after_key, base.describe()
            )
        else:
            base = SourceOffset(
                file=file, pos=pos, gtids=gtids, snapshot="running", server_id=server_id, ts_ms=started_ms
            )
            after_table, after_key = None, None
            log.info("snapshot: started at %s", base.describe())
        metrics.SNAPSHOT_RUNNING.set(1)
        src = SourceInfo()
        src.ts_ms, src.server_id, src.file, src.pos = (
            started_ms,
            base.server_id or server_id,
            base.file or "",
            base.pos or 0,
        )

        tables = self._tables
        if after_table is not None and after_table in tables:
            tables = tables[tables.index(after_table) :]
        pending: tuple[str, tuple[str, ...], dict[str, Any], list[Any]] | None = None
        first = resume is None or resume.snapshot != "running"
        last_emitted: tuple[str, list[Any]] | None = None

        def emit(item: tuple[str, tuple[str, ...], dict[str, Any], list[Any]], marker: str) -> None:
            nonlocal last_emitted
            table, pk, row, key = item
            src.snapshot = marker
            self._dispatcher.emit(table, pk, "r", None, row, src)
            last_emitted = (table, key)

        try:
            for table in tables:
                schema = self._schema(conn, table)
                if schema is None:
                    log.warning("snapshot: table %s.%s does not exist; skipped", self._db, table)
                    continue
                key_after = after_key if table == after_table else None
                done = 0
                for row, key in self._rows(conn, schema, key_after):
                    item = (table, schema.primary_key, row, key)
                    if pending is not None:
                        emit(pending, "first" if first else "true")
                        first = False
                    pending = item
                    done += 1
                    if done % 1000 == 0:
                        metrics.SNAPSHOT_ROWS.labels(table=table).inc(1000)
                        if schema.estimated_rows:
                            metrics.SNAPSHOT_PROGRESS.labels(table=table).set(
                                min(1.0, done / schema.estimated_rows)
                            )
                        if self._checkpointer.due() and last_emitted is not None:
                            self._checkpointer.commit(
                                base.with_(snapshot_table=last_emitted[0], snapshot_key=last_emitted[1])
                            )
                            self._on_progress(f"snapshot {table}: {done} rows")
                    if self._stop_requested():
                        if last_emitted is not None:
                            self._checkpointer.commit(
                                base.with_(snapshot_table=last_emitted[0], snapshot_key=last_emitted[1])
                            )
                        return None
                metrics.SNAPSHOT_ROWS.labels(table=table).inc(done % 1000)
                metrics.SNAPSHOT_PROGRESS.labels(table=table).set(1.0)
                log.info("snapshot: %s.%s done (%d rows)", self._db, table, done)
            if pending is not None:
                emit(pending, "last" if not first else "last")
            final = base.with_(snapshot="done", snapshot_table=None, snapshot_key=None, event=0, row=0)
            self._checkpointer.commit(final)
            log.info("snapshot: complete; streaming from %s", final.describe())
            return final
        finally:
            metrics.SNAPSHOT_RUNNING.set(0)

    def _rows(self, conn: Any, schema: TableSchema, after_key: list[Any] | None):  # type: ignore[no-untyped-def]
        names = [c[0] for c in schema.columns]
        converters = [snapshot_converter(t, p) for _, t, p in schema.columns]
        pk = schema.primary_key
        pk_idx = [names.index(c) for c in pk]
        cols = ", ".join(f"`{n}`" for n in names)
        sql = f"SELECT {cols} FROM `{self._db}`.`{schema.name}`"
        params: list[Any] = []
        if after_key is not None and pk:
            sql += f" WHERE ({', '.join(f'`{c}`' for c in pk)}) > ({', '.join(['%s'] * len(pk))})"
            params = list(after_key)
        if pk:
            sql += f" ORDER BY {', '.join(f'`{c}`' for c in pk)}"
        cur = conn.cursor(SSCursor)
        try:
            cur.execute(sql, params)
            while True:
                batch = cur.fetchmany(self._fetch_rows)
                if not batch:
                    break
                for raw in batch:
                    row = {
                        n: (conv(v) if v is not None else None)
                        for n, conv, v in zip(names, converters, raw, strict=True)
                    }
                    key = [_key_value(raw[i]) for i in pk_idx]
                    yield row, key
        finally:
            cur.close()


def _key_value(value: Any) -> Any:
    if isinstance(value, int | str | float) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
