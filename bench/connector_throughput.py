"""Connector throughput: python-mysql-replication's own reader vs the connector, in one run.

Needs the local stack (MariaDB, Kafka). Fills a throw-away database with single-row INSERT
transactions, then reads the same binlog range several ways and prints medians:

  A. one table, every row captured (N rows):
     lib-decode   BinLogStreamReader (only_tables/only_schemas), rows decoded, no Kafka
     hh-decode    connectors.binlog.BinlogReader, rows decoded, no Kafka
     hh-e2e       the connector (ConnectorTask, child process): binlog -> Kafka acknowledged
  B. 95% of the binlog is other tables' traffic (19 other rows per captured row):
     lib-skip     BinLogStreamReader over the range, other tables filtered by only_tables
     hh-e2e-skip  the connector end to end over the range

and the connector's peak RSS (VmHWM of the child). Usage:

    .venv/bin/python bench/connector_throughput.py [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TABLE_DDL = """CREATE TABLE IF NOT EXISTS `{name}` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) NOT NULL,
  `team_member` varchar(150) COLLATE latin1_general_cs NOT NULL,
  `team_role` varchar(32) COLLATE latin1_general_cs NOT NULL,
  `added` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `note` varchar(255) CHARSET utf8mb4 DEFAULT NULL,
  PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs"""


def secret(name: str) -> str:
    return (REPO / ".stack" / "secrets" / name).read_text().strip()


def env_value(key: str) -> str:
    for line in (REPO / "deploy" / "local" / "stack.env").read_text().splitlines():
        if line.startswith(key + "="):
            return os.environ.get(key, line.split("=", 1)[1])
    raise KeyError(key)


def app_conn(db: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    return pymysql.connect(
        host="127.0.0.1",
        port=int(env_value("MARIADB_PORT")),
        user=env_value("MARIADB_APP_USER"),
        password=secret("mariadb-app"),
        database=db,
        autocommit=True,
    )


def fill(db: str, captured: int, others_per_captured: int) -> tuple[str, str]:
    """Single-row INSERT transactions; returns the GTID position before and the last GTID."""
    conn = app_conn(db)
    with conn.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        (before,) = cur.fetchone()
        sql_c = "INSERT INTO captured (project_id, team_member, team_role, note) VALUES (%s, %s, %s, %s)"
        sql_o = "INSERT INTO other (project_id, team_member, team_role, note) VALUES (%s, %s, %s, %s)"
        for i in range(captured):
            for j in range(others_per_captured):
                cur.execute(sql_o, (i, f"o{j}@x.se", "Data scientist", None))
            cur.execute(sql_c, (i, f"user{i}@hopsworks.ai", "Data owner", f"nöte {i}"))
        cur.execute("SELECT @@last_gtid")
        (last,) = cur.fetchone()
    conn.close()
    return before, last


def lib_read(db: str, start: str, expected_rows: int) -> tuple[float, int]:
    """Until `expected_rows` rows of the captured table were decoded (the last one is the last
    transaction of the fill: waiting for a later GTID could wait forever on an idle server)."""
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import WriteRowsEvent

    reader = BinLogStreamReader(
        {
            "host": "127.0.0.1",
            "port": int(env_value("MARIADB_PORT")),
            "user": env_value("MARIADB_CAPTURE_USER"),
            "passwd": secret("mariadb-capture"),
        },
        server_id=64000 + os.getpid() % 1000,
        is_mariadb=True,
        auto_position=start,
        blocking=True,
        only_events=[WriteRowsEvent],
        only_schemas=[db],
        only_tables=["captured"],
        enable_logging=False,
    )
    rows = 0
    t0 = time.perf_counter()
    for ev in reader:
        rows += len(ev.rows)
        if rows >= expected_rows:
            break
    elapsed = time.perf_counter() - t0
    reader.close()
    return elapsed, rows


def hh_read(db: str, start: str, expected_rows: int) -> tuple[float, int]:
    from connectors.binlog import BinlogReader, ReaderConfig, RowsEvent, StartPosition

    cfg = ReaderConfig(
        "127.0.0.1",
        int(env_value("MARIADB_PORT")),
        env_value("MARIADB_CAPTURE_USER"),
        secret("mariadb-capture"),
        65000 + os.getpid() % 1000,
        db,
        frozenset(["captured"]),
    )
    reader = BinlogReader(cfg, StartPosition(gtids=start))
    rows = 0
    t0 = time.perf_counter()
    for ev in reader.events():
        if type(ev) is RowsEvent and ev.rows is not None:
            rows += len(ev.rows)
            if rows >= expected_rows:
                break
    elapsed = time.perf_counter() - t0
    reader.close()
    return elapsed, rows


def child_e2e(db: str, start: str, last: str) -> None:
    """Runs in a child process: the connector from `start` until `last` is committed and acked."""
    import logging

    from connectors.kafka_sink import KafkaSink, SinkConfig
    from connectors.offsets import OffsetStore, SourceOffset, offset_key
    from connectors.settings import ConnectorSettings
    from connectors.task import ConnectorTask

    logging.basicConfig(level=logging.WARNING)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = ConnectorSettings(
        database=db,
        tables=("captured",),
        topic_prefix=prefix,
        metrics_port=0,
        mysql_password=secret("mariadb-capture"),
        snapshot_mode="never",
        server_id=66000 + os.getpid() % 1000,
        kafka_bootstrap=f"127.0.0.1:{env_value('KAFKA_PORT')}",
    )
    sink = KafkaSink(SinkConfig(settings.kafka_bootstrap))
    sink.ensure_topics([settings.offsets_topic_name], compact=True)
    store = OffsetStore(
        sink,
        settings.kafka_bootstrap,
        settings.offsets_topic_name,
        offset_key(settings.connector_name, settings.database),
    )
    store.store(SourceOffset(gtids=start, snapshot="skipped"))
    sink.flush()
    sink.close()
    last_seq = int(last.rsplit("-", 1)[1])
    marks: dict[str, float] = {}

    def stop_when(ctx) -> bool:  # type: ignore[no-untyped-def]
        marks.setdefault("first", time.perf_counter())
        return ctx.last_gtid is not None and int(ctx.last_gtid.rsplit("-", 1)[1]) >= last_seq

    task = ConnectorTask(settings, stop_when=stop_when)
    t0 = time.perf_counter()
    code = task.run()  # returns after the final flush + offset store
    t1 = time.perf_counter()
    hwm_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm_kb = int(line.split()[1])
    print(
        json.dumps(
            {
                "code": code,
                "total_s": t1 - t0,
                "stream_s": t1 - marks.get("first", t0),
                "rss_mb": hwm_kb / 1024,
            }
        )
    )


def run_child(db: str, start: str, last: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", db, start, last],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"connector child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument(
        "--skip-rows", type=int, default=2000, help="captured rows in scenario B (x20 in all)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child_e2e(*args.child)
        return

    db = f"hopsharbor_bench_{uuid.uuid4().hex[:8]}"
    conn = app_conn()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"USE `{db}`")
        cur.execute(TABLE_DDL.format(name="captured"))
        cur.execute(TABLE_DDL.format(name="other"))
    try:
        t0 = time.perf_counter()
        a_start, a_last = fill(db, args.rows, 0)
        print(f"filled A: {args.rows} single-row INSERT transactions in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        b_start, b_last = fill(db, args.skip_rows, 19)
        b_total = args.skip_rows * 20
        print(f"filled B: {b_total} transactions (5% captured) in {time.perf_counter() - t0:.1f}s")

        lib, hh, e2e, rss = [], [], [], []
        lib_skip, e2e_skip = [], []
        for _ in range(args.repeat):
            s, rows = lib_read(db, a_start, args.rows)
            assert rows == args.rows, rows
            lib.append(rows / s)
            s, rows = hh_read(db, a_start, args.rows)
            assert rows == args.rows, rows
            hh.append(rows / s)
            r = run_child(db, a_start, a_last)
            e2e.append(args.rows / r["stream_s"])
            rss.append(r["rss_mb"])
            s, rows = lib_read(db, b_start, args.skip_rows)
            lib_skip.append(b_total / s)
            r = run_child(db, b_start, b_last)
            e2e_skip.append(b_total / r["stream_s"])
            rss.append(r["rss_mb"])

        med = statistics.median

        def line(label: str, value: float, unit: str, ratio: float | None = None) -> None:
            tail = f"   ({ratio:.1f}x)" if ratio is not None else ""
            print(f"   {label:<44}{value:>10,.0f} {unit}{tail}")

        print()
        print(f"A. single-row inserts, one captured table ({args.rows} rows), median of {args.repeat}:")
        line("library decode (python-mysql-replication)", med(lib), "rows/s")
        line("hopsharbor reader decode", med(hh), "rows/s", med(hh) / med(lib))
        line("hopsharbor connector end to end (Kafka ack)", med(e2e), "rows/s", med(e2e) / med(lib))
        print(f"B. 95% other tables ({b_total} row events, {args.skip_rows} captured):")
        line("library, only_tables filter", med(lib_skip), "events/s")
        skip_ratio = med(e2e_skip) / med(lib_skip)
        line("hopsharbor connector end to end (Kafka ack)", med(e2e_skip), "events/s", skip_ratio)
        print(f"peak RSS of the connector process: {max(rss):.0f} MB (median {med(rss):.0f} MB)")
    finally:
        conn = app_conn()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")


if __name__ == "__main__":
    main()
