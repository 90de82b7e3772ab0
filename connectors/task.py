"""The connector task: lifecycle of one connector process.

Steps of `run()`:
1. check the server's binlog settings (refuse with a message saying what to change);
2. take the lease (one reader per source: wait or refuse);
3. load the stored offset and decide, by snapshot mode, whether to snapshot first;
4. snapshot (if needed), then stream, checkpointing as they go;
5. on a retriable error (MySQL or Kafka gone, lease lost): count it, back off, go to 2 with the
   stored offset; on a purged position: snapshot again in mode when_needed, else stop with a
   message; on any other error: stop (exit code 1);
6. on SIGTERM (`request_stop()`): store the offset of what was published, close, exit 0.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pymysql

from connectors import metrics
from connectors.binlog import BinlogReader, ReaderConfig, StartPosition
from connectors.checkpoint import Checkpointer
from connectors.context import OffsetContext
from connectors.dispatcher import EventDispatcher
from connectors.errors import (
    ERROR_KINDS,
    ConnectorError,
    FatalError,
    PositionPurgedError,
    ServerConfigError,
    classify,
)
from connectors.kafka_sink import KafkaSink, SinkConfig
from connectors.lease import MySQLLease, lease_name
from connectors.offsets import OffsetStore, SourceOffset, offset_key
from connectors.server_check import check_server_variables, read_server_variables
from connectors.settings import ConnectorSettings
from connectors.snapshot import SnapshotSource
from connectors.streaming import StreamingSource, heartbeat_record

__all__ = ["ConnectorTask", "EXIT_OK", "EXIT_FATAL", "EXIT_CONFIG"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FATAL, EXIT_CONFIG = 0, 1, 2


class ConnectorTask:
    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        connect_mysql: Callable[[], Any] | None = None,
        sink_factory: Callable[[], KafkaSink] | None = None,
        clock: Callable[[], float] = time.time,
        stop_when: Callable[[OffsetContext], bool] | None = None,
    ) -> None:
        self.settings = settings
        self._connect_mysql = connect_mysql or self._default_connect
        self._sink_factory = sink_factory or self._default_sink
        self._clock = clock
        self._stop = threading.Event()
        self._stop_when = stop_when
        self.state = "starting"
        self.last_alive = time.monotonic()
        self._snapshot_done_here = False
        self._force_snapshot = False
        self.last_offset: SourceOffset | None = None

    # -- wiring -------------------------------------------------------------------------------

    def _default_connect(self) -> Any:
        s = self.settings
        return pymysql.connect(
            host=s.mysql_host,
            port=s.mysql_port,
            user=s.mysql_user,
            password=s.password(),
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
            read_timeout=600,
        )

    def _default_sink(self) -> KafkaSink:
        s = self.settings
        return KafkaSink(
            SinkConfig(
                s.kafka_bootstrap,
                s.linger_ms,
                s.batch_size,
                s.compression,
                s.topic_partitions,
                s.topic_replication,
            )
        )

    def _reader(self, start: StartPosition) -> BinlogReader:
        s = self.settings
        cfg = ReaderConfig(
            s.mysql_host,
            s.mysql_port,
            s.mysql_user,
            s.password(),
            s.server_id,
            s.database,
            frozenset(s.tables),
            heartbeat_s=s.mysql_heartbeat_s,
            read_timeout_s=max(10.0, s.mysql_heartbeat_s * 5),
            use_gtid=s.use_gtid,
        )
        return BinlogReader(cfg, start)

    @property
    def key(self) -> bytes:
        return offset_key(self.settings.connector_name, self.settings.database)

    # -- lifecycle ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Called from the SIGTERM handler (any thread): finish the current event and stop."""
        self._stop.set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def alive(self) -> None:
        self.last_alive = time.monotonic()

    def healthy(self) -> tuple[bool, str]:
        stale = time.monotonic() - self.last_alive
        ok = self.state in ("snapshot", "streaming") and stale < max(
            30.0, self.settings.mysql_heartbeat_s * 10
        )
        return ok, f"state={self.state} last_progress_s={stale:.1f}"

    def _init_metrics(self) -> None:
        for table in self.settings.tables:
            for op in ("c", "u", "d", "r"):
                metrics.EVENTS.labels(table=table, op=op)
            metrics.SNAPSHOT_ROWS.labels(table=table)
            metrics.SNAPSHOT_PROGRESS.labels(table=table)
        for kind in ERROR_KINDS:
            metrics.ERRORS.labels(kind=kind)

    def run(self) -> int:
        self._init_metrics()
        try:
            conn = self._connect_mysql()
            try:
                check_server_variables(read_server_variables(conn))
            finally:
                conn.close()
        except ServerConfigError as exc:
            metrics.ERRORS.labels(kind="config").inc()
            log.error("%s", exc)
            self.state = "failed"
            return EXIT_CONFIG
        except Exception as exc:  # noqa: BLE001 - e.g. MySQL down: retried below like any other start
            log.warning("server check postponed: %s", classify(exc))

        backoff = self.settings.backoff_initial_s
        lease = MySQLLease(
            self._connect_mysql,
            lease_name(self.settings.offsets_topic_name, self.key),
            self.settings.lease_wait_s,
        )
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    lease.acquire()
                    self._run_once(lease)
                    self.state = "stopped"
                    return EXIT_OK
                except Exception as raw:  # noqa: BLE001 - classified below, in one place
                    err = classify(raw)
                    metrics.ERRORS.labels(kind=err.kind).inc()
                    if isinstance(err, PositionPurgedError) and self.settings.snapshot_mode == "when_needed":
                        log.warning("%s; snapshot mode when_needed: taking a new snapshot", err)
                        self._force_snapshot = True
                        continue
                    if isinstance(err, PositionPurgedError):
                        log.error(
                            "%s. Run `hopsharbor connector offsets reset` (or set a position with "
                            "`offsets set`) to snapshot again, or use --snapshot-mode when_needed.",
                            err,
                        )
                        self.state = "failed"
                        return EXIT_FATAL
                    if not err.retriable:
                        log.error("stopping: %s", err)
                        self.state = "failed"
                        return EXIT_CONFIG if isinstance(err, ServerConfigError) else EXIT_FATAL
                    if time.monotonic() - started > self.settings.backoff_max_s:
                        backoff = self.settings.backoff_initial_s
                    log.warning("retriable error, reconnecting in %.1fs: %s", backoff, err)
                    metrics.RECONNECTS.inc()
                    self.state = "backoff"
                    metrics.STREAMING.set(0)
                    lease.close()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max_s)
            self.state = "stopped"
            return EXIT_OK
        finally:
            lease.close()

    def _run_once(self, lease: MySQLLease) -> None:
        s = self.settings
        sink = self._sink_factory()
        try:
            dispatcher = EventDispatcher(sink, s.topic_prefix, s.database, s.connector_name, self._clock)
            sink.ensure_topics([s.offsets_topic_name], compact=True)
            sink.ensure_topics([dispatcher.topic_for(t) for t in s.tables] + [s.heartbeat_topic])
            store = OffsetStore(sink, s.kafka_bootstrap, s.offsets_topic_name, self.key)
            checkpointer = Checkpointer(sink, store, lease, dispatcher, s.checkpoint_interval_s)
            offset = store.load()
            # A first record now: the idempotent producer gets its id and the topic metadata
            # before the clock of any snapshot or stream runs, and a Kafka that cannot take
            # writes is found before MySQL is read.
            sink.send(s.heartbeat_topic, self.key, b'{"starting":true}')
            sink.flush()
            checkpointer.last = offset
            log.info("stored offset: %s", offset.describe() if offset else "none")

            if self._needs_snapshot(offset):
                self.state = "snapshot"
                resume = (
                    offset if (offset and offset.snapshot == "running" and not self._force_snapshot) else None
                )
                snap = SnapshotSource(
                    self._connect_mysql,
                    s.database,
                    s.tables,
                    dispatcher,
                    checkpointer,
                    self._stop.is_set,
                    self._clock,
                    s.snapshot_fetch_rows,
                    on_progress=self._snapshot_progress,
                )
                offset = snap.run(resume)
                if offset is None:
                    return  # stopped during the snapshot; progress is stored
                self._snapshot_done_here = True
                self._force_snapshot = False
            elif offset is None:
                offset = self._current_position()
                checkpointer.commit(offset)

            self.state = "streaming"
            metrics.STREAMING.set(1)
            self.alive()

            def heartbeat(ctx: OffsetContext) -> None:
                now = self._clock()
                sink.send(s.heartbeat_topic, self.key, heartbeat_record(ctx, int(now * 1000)))
                metrics.HEARTBEAT_TIMESTAMP.set(now)

            streaming = StreamingSource(
                self._reader,
                dispatcher,
                checkpointer,
                self._stop.is_set,
                heartbeat=heartbeat,
                heartbeat_interval_s=s.heartbeat_interval_s,
                clock=self._clock,
                stop_when=self._stop_when,
                on_alive=self.alive,
                database=s.database,
            )
            self.last_offset = streaming.run(offset)
        finally:
            metrics.STREAMING.set(0)
            try:
                sink.flush(timeout_s=10)
            except ConnectorError as exc:
                log.warning("final flush failed: %s", exc)
            sink.close()

    def _snapshot_progress(self, message: str) -> None:
        self.alive()
        log.info("%s", message)

    def _needs_snapshot(self, offset: SourceOffset | None) -> bool:
        mode = self.settings.snapshot_mode
        if self._force_snapshot:
            return True
        if offset is not None and offset.snapshot == "running":
            return mode != "never"
        if mode == "always":
            return not self._snapshot_done_here
        if mode in ("initial", "when_needed"):
            return offset is None
        return False

    def _current_position(self) -> SourceOffset:
        """Snapshot mode never, nothing stored: start at the server's current position."""
        conn = self._connect_mysql()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@version, @@server_id")
                version, server_id = cur.fetchone()
                try:
                    cur.execute("SHOW BINARY LOG STATUS")
                except pymysql.err.MySQLError:
                    cur.execute("SHOW MASTER STATUS")
                row = cur.fetchone()
                if row is None:
                    raise FatalError("binary logging is off on the server", "config")
                file, pos = row[0], int(row[1])
                if "mariadb" in str(version).lower():
                    cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
                    (gtids,) = cur.fetchone()
                else:
                    gtids = row[4] if len(row) > 4 else None
        finally:
            conn.close()
        offset = SourceOffset(
            file=file,
            pos=pos,
            gtids=gtids or None,
            snapshot="skipped",
            server_id=int(server_id),
            ts_ms=int(self._clock() * 1000),
        )
        log.info("snapshot mode never: streaming from the current position %s", offset.describe())
        return offset


def describe_offset(offset: SourceOffset | None) -> str:
    return json.dumps(offset.to_json() if offset else None, indent=2)
