"""Streaming and snapshot against the real MariaDB and Kafka (one database and topic prefix per test)."""

from __future__ import annotations

import threading
import time

import jsonschema
import pytest

from connectors.task import EXIT_FATAL, EXIT_OK
from schemas import change_event_schema

from .support import (
    TaskThread,
    changes,
    fold,
    insert_user,
    last_gtid,
    read_topic,
    settings_for,
    wait_until,
)

pytestmark = pytest.mark.integration

VALIDATOR = jsonschema.Draft202012Validator(change_event_schema())


def topic(s, table: str) -> str:  # type: ignore[no-untyped-def]
    return s.topic_for(table)


def validate_all(records) -> None:  # type: ignore[no-untyped-def]
    for _key, value in records:
        if value is not None:
            VALIDATOR.validate(value)


def test_exact_event_sequences_for_insert_update_delete_multirow_and_transactions(
    mysql_db, stack, topic_prefix
):
    s = settings_for(mysql_db, stack, topic_prefix, snapshot_mode="never")
    runner = TaskThread(s).start()
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        insert_user(cur, 1, "a@x.se", "Ann")
        cur.execute("UPDATE users SET fname='Åsa' WHERE uid=1")
        insert_user(cur, 2, "b@x.se", "Bo")
        cur.execute(
            "INSERT INTO project (id, projectname, username, creation_status) VALUES (7, 'demo', 'a@x.se', 1)"
        )
        # one multi-row event
        cur.execute(
            "INSERT INTO project_team (project_id, team_member, team_role) VALUES"
            " (7, 'a@x.se', 'Data owner'), (7, 'b@x.se', 'Data scientist')"
        )
        # one transaction of several statements over several tables
        cur.execute("BEGIN")
        cur.execute("UPDATE project SET creation_status=0 WHERE id=7")
        cur.execute("UPDATE project_team SET team_role='Under removal' WHERE project_id=7")
        cur.execute("DELETE FROM project_team WHERE team_member='b@x.se'")
        cur.execute("COMMIT")
        cur.execute("DELETE FROM users WHERE uid=2")
    assert runner.until(last_gtid(conn)) == EXIT_OK

    users = read_topic(stack.kafka_bootstrap, topic(s, "users"))
    team = read_topic(stack.kafka_bootstrap, topic(s, "project_team"))
    project = read_topic(stack.kafka_bootstrap, topic(s, "project"))
    for records in (users, team, project):
        validate_all(records)

    def fname(img):  # type: ignore[no-untyped-def]
        return img and img["fname"]

    assert [
        (op, key, *map(fname, rest)) if op != "tombstone" else (op, key) for op, key, *rest in changes(users)
    ] == [
        ("c", {"uid": 1}, None, "Ann"),
        ("u", {"uid": 1}, "Ann", "Åsa"),
        ("c", {"uid": 2}, None, "Bo"),
        ("d", {"uid": 2}, "Bo", None),
        ("tombstone", {"uid": 2}),
    ]
    a, b = {"project_id": 7, "team_member": "a@x.se"}, {"project_id": 7, "team_member": "b@x.se"}

    def role(img):  # type: ignore[no-untyped-def]
        return img and img["team_role"]

    assert [
        (op, key, *map(role, rest)) if op != "tombstone" else (op, key) for op, key, *rest in changes(team)
    ] == [
        ("c", a, None, "Data owner"),
        ("c", b, None, "Data scientist"),
        ("u", a, "Data owner", "Under removal"),
        ("u", b, "Data scientist", "Under removal"),
        ("d", b, "Under removal", None),
        ("tombstone", b),
    ]
    assert [(v["op"], v["after"]["creation_status"]) for _k, v in project] == [("c", 1), ("u", 0)]
    # rows of one multi-row event: same file/pos, row 0 and 1; one transaction: one GTID
    inserted = [v["source"] for _k, v in team[:2]]
    assert inserted[0]["pos"] == inserted[1]["pos"] and [i["row"] for i in inserted] == [0, 1]
    tx = [v["source"]["gtid"] for _k, v in team[2:5]] + [project[1][1]["source"]["gtid"]]
    assert len(set(tx)) == 1
    assert all(
        v["source"]["snapshot"] == "false" and v["source"]["db"] == mysql_db.name for _k, v in users if v
    )


TYPED_DDL = """CREATE TABLE typed (
  id int PRIMARY KEY,
  dt datetime(6) NULL, dt0 datetime NULL, ts timestamp(3) NULL, d date NULL,
  amount decimal(12,4) NULL, neg decimal(5,2) NULL,
  doc json NULL, lat varchar(60) CHARSET latin1 NULL, u8 varchar(60) CHARSET utf8mb4 NULL,
  txt text CHARSET utf8mb4 NULL, bin varbinary(8) NULL, n int NULL, big bigint unsigned NULL,
  e enum('a','b') NULL)"""

TYPED_VALUES = (
    "2024-02-29 23:59:58.123456",
    "1999-12-31 00:00:01",
    "2024-05-01 10:20:30.120",
    "2024-05-01",
    "12345678.9012",
    "-0.05",
    '{"b": [1, 2.5, null], "a": "x"}',
    "Åsa Öberg, café €",
    "emoji 😀 ünïcode",
    "long text ✓",
    b"\x00\xff\x10",
    None,
    18446744073709551615,
    "b",
)
EXPECTED = {
    "dt": 1709251198123456,
    "dt0": 946598401000,
    "ts": "2024-05-01T10:20:30.120Z",
    "d": 19844,
    "amount": "12345678.9012",
    "neg": "-0.05",
    "doc": '{"b": [1, 2.5, null], "a": "x"}',
    "lat": "Åsa Öberg, café €",
    "u8": "emoji 😀 ünïcode",
    "txt": "long text ✓",
    "bin": "AP8Q",
    "n": None,
    "big": 18446744073709551615,
    "e": "b",
}


def test_values_round_trip_exactly_in_snapshot_and_stream(mysql_db, stack, topic_prefix):
    conn = mysql_db.connect()
    insert = (
        "INSERT INTO typed (id, dt, dt0, ts, d, amount, neg, doc, lat, u8, txt, bin, n, big, e)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with conn.cursor() as cur:
        cur.execute(TYPED_DDL)
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(insert, (1, *TYPED_VALUES))
    s = settings_for(mysql_db, stack, topic_prefix, tables=("typed",))
    runner = TaskThread(s).start()
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(insert, (2, *TYPED_VALUES))
    assert runner.until(last_gtid(conn)) == EXIT_OK
    records = read_topic(stack.kafka_bootstrap, s.topic_for("typed"))
    validate_all(records)
    assert [v["op"] for _k, v in records] == ["r", "c"]
    snap, streamed = records[0][1]["after"], records[1][1]["after"]
    assert {k: v for k, v in snap.items() if k != "id"} == EXPECTED
    assert {k: v for k, v in streamed.items() if k != "id"} == EXPECTED


def test_a_column_added_mid_stream_appears_in_later_events(mysql_db, stack, topic_prefix):
    s = settings_for(mysql_db, stack, topic_prefix, snapshot_mode="never")
    runner = TaskThread(s).start()
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        insert_user(cur, 1)
        cur.execute("ALTER TABLE users ADD COLUMN nickname varchar(20) NULL")
        insert_user(cur, 2)
        cur.execute("UPDATE users SET nickname='nick' WHERE uid=2")
    assert runner.until(last_gtid(conn)) == EXIT_OK
    records = read_topic(stack.kafka_bootstrap, s.topic_for("users"))
    assert "nickname" not in records[0][1]["after"]
    assert records[1][1]["after"]["nickname"] is None
    assert records[2][1]["after"]["nickname"] == "nick"


def test_snapshot_with_concurrent_writes_then_streaming_misses_nothing_and_repeats_nothing(
    mysql_db, stack, topic_prefix
):
    conn = mysql_db.connect()
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (uid, username, password, email, status, max_num_projects)"
            " VALUES (%s, %s, 'pw', %s, 2, 10)",
            [(i, f"u{i}", f"u{i}@x.se") for i in range(1, 5001)],
        )
    stop = threading.Event()
    writer_conn = mysql_db.connect()

    def writer() -> None:
        uid = 10_000
        with writer_conn.cursor() as cur:
            while not stop.is_set() and uid < 10_300:
                uid += 1
                insert_user(cur, uid)
                cur.execute("UPDATE users SET status=3 WHERE uid=%s", (uid - 10_000,))
                if uid % 7 == 0:
                    cur.execute("DELETE FROM users WHERE uid=%s", (uid - 10_001 + 1,))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    s = settings_for(mysql_db, stack, topic_prefix, tables=("users",), snapshot_fetch_rows=200)
    runner = TaskThread(s).start(wait_for="streaming")
    time.sleep(0.2)
    stop.set()
    w.join()
    with writer_conn.cursor() as cur:  # certainly after the snapshot
        for uid in range(20_001, 20_021):
            insert_user(cur, uid)
    assert runner.until(last_gtid(writer_conn)) == EXIT_OK
    records = read_topic(stack.kafka_bootstrap, s.topic_for("users"))
    ops = [v["op"] for _k, v in records if v]
    assert ops.count("r") >= 1 and "c" in ops, "writes happened during and after the snapshot"
    # no row both read by the snapshot and created by the stream, no row created twice
    born: dict[int, int] = {}
    for key, value in records:
        if value and value["op"] in ("r", "c"):
            born[key["uid"]] = born.get(key["uid"], 0) + 1
    assert max(born.values()) == 1
    markers = [v["source"]["snapshot"] for _k, v in records if v and v["op"] == "r"]
    assert markers[0] == "first" and markers[-1] == "last" and set(markers[1:-1]) <= {"true"}
    with conn.cursor() as cur:
        cur.execute("SELECT uid, status FROM users")
        table = {uid: status for uid, status in cur.fetchall()}
    state = fold(records)
    assert {v["uid"]: v["status"] for v in state.values()} == table


def test_a_second_instance_on_the_same_offsets_refuses(mysql_db, stack, topic_prefix):
    s = settings_for(mysql_db, stack, topic_prefix, snapshot_mode="never")
    first = TaskThread(s).start()
    try:
        second = TaskThread(settings_for(mysql_db, stack, topic_prefix, snapshot_mode="never"))
        second.thread.start()
        second.thread.join(30)
        assert second.code == EXIT_FATAL
        assert first.task.state == "streaming"
    finally:
        assert first.stop() == EXIT_OK


def test_metrics_and_healthz_are_served(mysql_db, stack, topic_prefix):
    import httpx

    from connectors.http import serve

    s = settings_for(mysql_db, stack, topic_prefix, snapshot_mode="never")
    runner = TaskThread(s).start()
    server = serve("127.0.0.1", 0, runner.task.healthy)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        conn = mysql_db.connect()
        with conn.cursor() as cur:
            insert_user(cur, 1)
        wait_until(lambda: 'table="users"} 1.0' in httpx.get(f"{base}/metrics").text, 20, "events metric")
        text = httpx.get(f"{base}/metrics").text
        for name in (
            "hopsharbor_connector_events_total",
            "hopsharbor_connector_capture_lag_seconds",
            "hopsharbor_connector_binlog_position",
            "hopsharbor_connector_errors_total",
            "hopsharbor_connector_reconnects_total",
            "hopsharbor_connector_snapshot_rows_total",
        ):
            assert name in text
        assert httpx.get(f"{base}/healthz").status_code == 200
        runner.stop()
        assert httpx.get(f"{base}/healthz").status_code == 503
    finally:
        server.shutdown()
