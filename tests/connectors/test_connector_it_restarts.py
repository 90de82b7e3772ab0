"""Restarts: kill -9 while streaming and while snapshotting, a purged binlog, offsets commands.

The connector runs as a subprocess (`python -m connectors run`, configured by HOPSHARBOR_*
variables) so that it can be killed with SIGKILL at arbitrary points.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.offsets import OffsetStore, SourceOffset, offset_key
from connectors.task import EXIT_FATAL, EXIT_OK

from .support import (
    TaskThread,
    env_for,
    fold,
    gtid_seq,
    insert_user,
    last_gtid,
    read_topic,
    settings_for,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def load_offset(s: Any) -> SourceOffset | None:
    store = OffsetStore(
        None, s.kafka_bootstrap, s.offsets_topic_name, offset_key(s.connector_name, s.database)
    )
    return store.load()


def start_process(s: Any, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "connectors", "run"],
        cwd=REPO,
        env=env_for(s),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_streaming(log: Path, runs: int, timeout: float = 60) -> None:
    """Until the `runs`-th process started on this log file reads the binlog."""
    wait_until(
        lambda: log.exists() and log.read_text().count("connectors.streaming: streaming from") >= runs,
        timeout,
        f"run {runs} streaming",
    )


def topic_end(s: Any, table: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None)
    try:
        tp = TopicPartition(s.topic_for(table), 0)
        return int(consumer.end_offsets([tp])[tp])
    finally:
        consumer.close()


def wait_caught_up(s: Any, target_gtid: str, timeout: float = 90) -> None:
    def caught_up() -> bool:
        offset = load_offset(s)
        return bool(
            offset
            and offset.event == 0
            and offset.row == 0
            and offset.snapshot != "running"
            and gtid_seq(offset.gtids) >= gtid_seq(target_gtid)
        )

    wait_until(caught_up, timeout, f"stored offset at {target_gtid}")


def table_state(conn: Any) -> dict[int, tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute("SELECT uid, fname, status FROM users")
        return {r[0]: (r[1], r[2]) for r in cur.fetchall()}


def topic_state(records: list[tuple[Any, Any]]) -> dict[int, tuple[Any, ...]]:
    return {v["uid"]: (v["fname"], v["status"]) for v in fold(records).values()}


def test_kill_9_while_streaming_loses_nothing_and_repeats_only_after_the_stored_offset(
    mysql_db, stack, topic_prefix, tmp_path
):
    s = settings_for(mysql_db, stack, topic_prefix, tables=("users",), checkpoint_interval_s=0.1)
    conn = mysql_db.connect()
    done = threading.Event()

    def writer() -> None:
        rng = random.Random(7)
        with conn.cursor() as cur:
            for i in range(1, 401):
                kind = i % 4
                if kind == 0:  # one multi-row event
                    cur.execute(
                        "INSERT INTO users (uid, username, password, email, status, max_num_projects)"
                        " VALUES " + ",".join(["(%s, %s, 'pw', %s, 1, 5)"] * 5),
                        [v for j in range(5) for v in (i * 10 + j, f"m{i}_{j}", f"m{i}_{j}@x.se")],
                    )
                elif kind == 1:  # a transaction of several statements
                    cur.execute("BEGIN")
                    insert_user(cur, i * 10, fname=f"t{i}")
                    cur.execute(
                        "UPDATE users SET status=status+1 WHERE uid BETWEEN %s AND %s", (i * 10 - 40, i * 10)
                    )
                    cur.execute("DELETE FROM users WHERE uid=%s", (i * 10 - 39,))
                    cur.execute("COMMIT")
                else:
                    insert_user(cur, i * 10, fname=f"s{i}")
                    cur.execute("UPDATE users SET fname=%s WHERE uid=%s", (f"x{rng.random():.5f}", i * 10))
        done.set()

    log = tmp_path / "connector.log"
    proc = start_process(s, log)
    wait_streaming(log, 1)
    w = threading.Thread(target=writer, daemon=True)
    w.start()
    kills: list[tuple[SourceOffset, int]] = []
    rng = random.Random()
    for run in range(1, 4):
        wait_streaming(log, run)
        time.sleep(rng.uniform(0.1, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        offset = load_offset(s)
        assert offset is not None
        kills.append((offset, topic_end(s, "users")))
        proc = start_process(s, log)
    w.join(120)
    assert done.is_set()
    wait_streaming(log, 4)
    wait_caught_up(s, last_gtid(conn))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == EXIT_OK, log.read_text()[-3000:]

    records = read_topic(s.kafka_bootstrap, s.topic_for("users"))
    assert topic_state(records) == table_state(conn), "every change present"
    # Each run after a kill starts at the offset stored before the kill: nothing it publishes
    # comes from a transaction the offset had already passed.
    for offset, end in kills:
        resumed = [v for _k, v in records[end:] if v is not None]
        if resumed:
            first = min(gtid_seq(v["source"]["gtid"]) for v in resumed)
            assert first > gtid_seq(offset.gtids), (offset, resumed[0]["source"])
    # duplicates are recognisable by source gtid/pos/row and are all re-publications
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _k, v in records:
        if v is None:
            continue
        ident = (v["source"]["gtid"], v["source"]["file"], v["source"]["pos"], v["source"]["row"])
        if ident in seen:
            assert (seen[ident]["before"], seen[ident]["after"]) == (v["before"], v["after"])
        seen[ident] = v


def test_kill_9_while_snapshotting_resumes_after_the_last_stored_key(mysql_db, stack, topic_prefix, tmp_path):
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (uid, username, password, email, status, max_num_projects)"
            " VALUES (%s, %s, 'pw', %s, 2, 10)",
            [(i, f"u{i}", f"u{i}@x.se") for i in range(1, 30001)],
        )
    s = settings_for(
        mysql_db, stack, topic_prefix, tables=("users",), checkpoint_interval_s=0.1, snapshot_fetch_rows=500
    )
    log = tmp_path / "connector.log"
    proc = start_process(s, log)

    def snapshot_in_progress() -> bool:
        offset = load_offset(s)
        return bool(offset and offset.snapshot == "running" and offset.snapshot_key)

    wait_until(snapshot_in_progress, 90, "a stored snapshot position")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = load_offset(s)
    assert stored is not None and stored.snapshot == "running", "killed before the snapshot ended"
    end = topic_end(s, "users")
    with conn.cursor() as cur:  # changes while the connector is down reach it through the binlog
        cur.execute("UPDATE users SET status=9 WHERE uid IN (1, 29999)")
        cur.execute("DELETE FROM users WHERE uid=2")
    proc = start_process(s, log)
    wait_streaming(log, 1)
    wait_caught_up(s, last_gtid(conn))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == EXIT_OK, log.read_text()[-3000:]

    records = read_topic(s.kafka_bootstrap, s.topic_for("users"))
    assert topic_state(records) == table_state(conn)
    resumed_reads = [v["after"]["uid"] for _k, v in records[end:] if v and v["op"] == "r"]
    assert resumed_reads[0] == stored.snapshot_key[0] + 1, "continues right after the stored key"
    reads = [v["after"]["uid"] for _k, v in records if v and v["op"] == "r"]
    assert set(reads) == set(range(1, 30001))
    duplicated = {uid for uid, n in Counter(reads).items() if n > 1}
    assert all(uid > stored.snapshot_key[0] for uid in duplicated)


def root_connect(stack: Any) -> Any:
    import pymysql

    return pymysql.connect(unix_socket=str(stack.dir / "run" / "mariadb.sock"), user="root", autocommit=True)


def purge_binlogs(stack: Any) -> None:
    """Drop every binlog but a new one. MariaDB keeps a file until its binlog checkpoint (InnoDB
    flushed what it covers) is written, which is asynchronous: retry for a while."""
    conn = root_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute("FLUSH BINARY LOGS")
            cur.execute("SHOW MASTER STATUS")
            current = cur.fetchone()[0]
            deadline = time.monotonic() + 20
            while True:
                cur.execute("PURGE BINARY LOGS TO %s", (current,))
                cur.execute("SHOW BINARY LOGS")
                if [r[0] for r in cur.fetchall()] == [current]:
                    return
                if time.monotonic() > deadline:
                    pytest.fail("MariaDB kept old binlogs after PURGE (binlog checkpoint pending)")
                cur.execute("FLUSH ENGINE LOGS")
                time.sleep(0.2)
    finally:
        conn.close()


def test_purged_binlog_initial_fails_clearly_when_needed_resnapshots(mysql_db, stack, topic_prefix, caplog):
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        insert_user(cur, 1)
    s = settings_for(mysql_db, stack, topic_prefix, tables=("users",))
    runner = TaskThread(s).start()
    with conn.cursor() as cur:
        insert_user(cur, 2)
    assert runner.until(last_gtid(conn)) == EXIT_OK
    with conn.cursor() as cur:  # changes the stopped connector never saw, then gone from the server
        insert_user(cur, 3)
        cur.execute("UPDATE users SET fname='Zed' WHERE uid=1")
    purge_binlogs(stack)

    caplog.set_level("ERROR", logger="connectors.task")
    failed = TaskThread(s)
    failed.thread.start()
    failed.thread.join(60)
    assert failed.code == EXIT_FATAL
    assert "no longer on the server" in caplog.text and "when_needed" in caplog.text

    again = TaskThread(
        settings_for(mysql_db, stack, topic_prefix, tables=("users",), snapshot_mode="when_needed")
    )
    again.start()
    with conn.cursor() as cur:
        insert_user(cur, 4)
    assert again.until(last_gtid(conn)) == EXIT_OK
    records = read_topic(s.kafka_bootstrap, s.topic_for("users"))
    assert topic_state(records) == table_state(conn)
    snaps = [v for _k, v in records if v and v["op"] == "r"]
    firsts = [
        i
        for i, v in enumerate(snaps)
        if v["source"]["snapshot"] in ("first", "last")
        and (i == 0 or snaps[i - 1]["source"]["snapshot"] == "last")
    ]
    assert len(firsts) == 2, "a second snapshot after the purge"
    assert {v["after"]["uid"] for v in snaps[firsts[1] :]} >= {1, 2, 3}


def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-m", "connectors", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout + out.stderr


def test_offsets_show_set_reset(mysql_db, stack, topic_prefix):
    s = settings_for(mysql_db, stack, topic_prefix, tables=("users",))
    env = env_for(s)
    code, out = run_cli("offsets", "show", env=env)
    assert code == 0 and json.loads(out[out.index("{") :])["offset"] is None
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        insert_user(cur, 1)
        here = last_gtid(conn)
        insert_user(cur, 2)
    code, out = run_cli("offsets", "set", "--gtids", here, env=env)
    assert code == 0, out
    code, out = run_cli("offsets", "show", env=env)
    shown = json.loads(out[out.index("{") :])["offset"]
    assert shown["gtids"] == here and shown["snapshot"] == "skipped"
    # streaming from the position set: only the change after it, no snapshot
    runner = TaskThread(s).start()
    assert runner.until(last_gtid(conn)) == EXIT_OK
    records = read_topic(s.kafka_bootstrap, s.topic_for("users"))
    assert [(v["op"], v["after"]["uid"]) for _k, v in records] == [("c", 2)]
    # refused while a connector holds the lease
    runner = TaskThread(s).start()
    try:
        code, out = run_cli("offsets", "reset", env=env)
        assert code == 1 and "another connector instance" in out
    finally:
        runner.stop()
    code, out = run_cli("offsets", "reset", env=env)
    assert code == 0, out
    code, out = run_cli("offsets", "show", env=env)
    assert json.loads(out[out.index("{") :])["offset"] is None


def test_reconnects_when_the_replication_connection_is_killed(mysql_db, stack, topic_prefix):
    from connectors import metrics

    s = settings_for(mysql_db, stack, topic_prefix, tables=("users",), snapshot_mode="never")
    runner = TaskThread(s).start()
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        insert_user(cur, 1)
    before = metrics.RECONNECTS._value.get()
    root = root_connect(stack)
    dumps: list[int] = []

    def dump_threads() -> bool:
        with root.cursor() as cur:
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'"
                " AND USER=%s",
                (mysql_db.capture_user,),
            )
            dumps[:] = [int(r[0]) for r in cur.fetchall()]
        return bool(dumps)

    wait_until(dump_threads, 20, "the connector's binlog dump thread")
    with root.cursor() as cur:
        for thread_id in dumps:
            cur.execute(f"KILL {thread_id}")
    root.close()
    with conn.cursor() as cur:
        insert_user(cur, 2)
    assert runner.until(last_gtid(conn)) == EXIT_OK
    assert metrics.RECONNECTS._value.get() > before
    records = read_topic(s.kafka_bootstrap, s.topic_for("users"))
    assert sorted({v["after"]["uid"] for _k, v in records if v}) == [1, 2]
