"""Helpers for the connector's integration tests: settings for a test database, a task running in a
thread, reading a topic back, folding events into table state."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from connectors.settings import ConnectorSettings
from connectors.task import ConnectorTask


def settings_for(db: Any, stack: Any, topic_prefix: str, **overrides: Any) -> ConnectorSettings:
    values: dict[str, Any] = dict(
        mysql_host=db.host,
        mysql_port=db.port,
        mysql_user=db.capture_user,
        mysql_password=db.capture_password,
        database=db.name,
        topic_prefix=topic_prefix,
        kafka_bootstrap=stack.kafka_bootstrap,
        metrics_port=0,
        # MariaDB drops an older binlog dump with the same server id: one per test
        server_id=random.randint(10_000, 4_000_000),
        checkpoint_interval_s=0.2,
        mysql_heartbeat_s=0.5,
        backoff_initial_s=0.2,
        backoff_max_s=2.0,
    )
    values.update(overrides)
    return ConnectorSettings(**values)


def env_for(settings: ConnectorSettings) -> dict[str, str]:
    """The environment that configures `python -m connectors run` like `settings`."""
    import os

    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, tuple):
            value = ",".join(value)
        env[f"HOPSHARBOR_{name.upper()}"] = str(value)
    return env


def gtid_seq(gtid: str | None) -> int:
    return int(gtid.rsplit("-", 1)[1]) if gtid else -1


class TaskThread:
    """A ConnectorTask in a thread; `until(gtid)` makes it stop once that transaction is committed."""

    def __init__(self, settings: ConnectorSettings) -> None:
        self.target: int | None = None
        self.task = ConnectorTask(settings, stop_when=self._stop_when)
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _stop_when(self, ctx: Any) -> bool:
        # the GTID position (not just the last commit seen): a snapshot may start past the target
        return self.target is not None and gtid_seq(ctx.gtids) >= self.target

    def _run(self) -> None:
        self.code = self.task.run()

    def start(self, wait_for: str | None = "streaming", timeout: float = 60) -> TaskThread:
        self.thread.start()
        if wait_for:
            wait_until(
                lambda: self.task.state == wait_for or self.code is not None,
                timeout,
                f"connector state {wait_for}",
            )
        return self

    def until(self, gtid: str, timeout: float = 60) -> int:
        self.target = gtid_seq(gtid)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"connector did not reach {gtid} within {timeout}s"
        assert self.code is not None
        return self.code

    def stop(self, timeout: float = 30) -> int | None:
        self.task.request_stop()
        self.thread.join(timeout)
        return self.code


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def last_gtid(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@last_gtid")
        return str(cur.fetchone()[0])


def read_topic(bootstrap: str, topic: str) -> list[tuple[Any, Any]]:
    """Every record of a single-partition topic: (key, value) JSON-decoded (None for tombstones)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        if not consumer.partitions_for_topic(topic):
            return []
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[tuple[Any, Any]] = []
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    out.append(
                        (json.loads(r.key) if r.key else None, json.loads(r.value) if r.value else None)
                    )
        return out
    finally:
        consumer.close()


def changes(records: list[tuple[Any, Any]]) -> list[tuple[Any, ...]]:
    """(op, key, before, after) per record; tombstones as ("tombstone", key)."""
    out: list[tuple[Any, ...]] = []
    for key, value in records:
        if value is None:
            out.append(("tombstone", key))
        else:
            out.append((value["op"], key, value["before"], value["after"]))
    return out


def fold(records: list[tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    """The table state the events describe: key -> last after-image (deletes remove the key)."""
    state: dict[str, dict[str, Any]] = {}
    for key, value in records:
        k = json.dumps(key, sort_keys=True)
        if value is None or value["op"] == "d":
            state.pop(k, None)
        else:
            state[k] = value["after"]
    return state


def insert_user(cur: Any, uid: int, email: str | None = None, fname: str = "Ann") -> None:
    cur.execute(
        "INSERT INTO users (uid, username, password, email, fname, lname, status, max_num_projects)"
        " VALUES (%s, %s, 'pw', %s, %s, 'Lee', 2, 10)",
        (uid, f"u{uid}", email or f"user{uid}@hopsworks.ai", fname),
    )
