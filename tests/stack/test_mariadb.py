"""MariaDB of the local stack writes the binlog the connector needs: ROW events with full row
images and column names, readable by the capture user from a GTID position."""

from __future__ import annotations

import random

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import WriteRowsEvent

from tests.conftest import MySQLDatabase

pytestmark = pytest.mark.integration


def test_binlog_settings_are_what_the_connector_needs(mysql_db: MySQLDatabase) -> None:
    conn = mysql_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata")
            assert cur.fetchone() == (1, "ROW", "FULL", "FULL")
    finally:
        conn.close()


def test_inserted_row_comes_back_from_the_binlog_with_column_names(mysql_db: MySQLDatabase) -> None:
    conn = mysql_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@gtid_binlog_pos")
            (gtid_before,) = cur.fetchone()
            cur.execute(
                "INSERT INTO users (username, password, email, fname, max_num_projects)"
                " VALUES (%s, %s, %s, %s, %s)",
                ("binlogu1", "x", "binlog@example.com", "Åsa", 5),
            )
            uid = cur.lastrowid
    finally:
        conn.close()

    stream = BinLogStreamReader(
        connection_settings={
            "host": mysql_db.host, "port": mysql_db.port,
            "user": mysql_db.capture_user, "password": mysql_db.capture_password,
        },
        server_id=random.randint(10_000, 2**31),  # each reader needs its own; never the server's (1)
        is_mariadb=True,
        auto_position=gtid_before,
        only_schemas=[mysql_db.name],
        only_events=[WriteRowsEvent],
        blocking=False,  # stop at the end of the binlog instead of waiting for more
    )
    try:
        rows = [(e.schema, e.table, row["values"]) for e in stream for row in e.rows]
    finally:
        stream.close()

    assert [(s, t) for s, t, _ in rows] == [(mysql_db.name, "users")]
    values = rows[0][2]
    assert values["uid"] == uid
    assert values["username"] == "binlogu1"
    assert values["email"] == "binlog@example.com"
    assert values["fname"] == "Åsa"
    assert values["max_num_projects"] == 5
    # Full row image: the columns left to their defaults are there too.
    assert values["status"] == -1 and values["mode"] == 0
    assert not any(name.startswith("UNKNOWN_COL") for name in values)
