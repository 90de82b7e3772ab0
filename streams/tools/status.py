"""`hopsharbor status`: where the pipeline stands, in one screen.

- connector: the stored source offset (what the next start resumes from) against the server's
  current binlog position, and the capture lag since the offset's commit time;
- worker: the consumer group's lag per CDC and state partition (end offset - committed offset);
- dead letters: how many, and the last few with their reasons;
- Harbor: whether it answers.

Read-only; every part that cannot be read says why and the others still print. Exit code 0 when
every part could be read, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["register"]


def _connector(out: Callable[[str], None]) -> None:
    from connectors.offsets import OffsetStore, offset_key
    from connectors.settings import ConnectorSettings

    cs = ConnectorSettings()  # type: ignore[call-arg]  # every field has a default or comes from the env
    store = OffsetStore(
        None, cs.kafka_bootstrap, cs.offsets_topic_name, offset_key(cs.connector_name, cs.database)
    )
    offset = store.load()
    out(f"connector  stored offset: {offset.describe() if offset else 'none (the next start snapshots)'}")
    if offset and offset.ts_ms:
        out(f"           last committed change: {time.time() - offset.ts_ms / 1000:.1f}s ago")
    import pymysql

    conn = pymysql.connect(
        host=cs.mysql_host, port=cs.mysql_port, user=cs.mysql_user, password=cs.password(), connect_timeout=5
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@gtid_binlog_pos")
            gtid = cur.fetchone()[0]
            cur.execute("SHOW MASTER STATUS")
            row = cur.fetchone()
    finally:
        conn.close()
    out(
        f"           server position:  gtids={gtid}"
        f" file={row[0] if row else '?'} pos={row[1] if row else '?'}"
    )


def _worker(out: Callable[[str], None]) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer

    from streams.settings import Settings

    s = Settings()
    admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=10000)
    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        committed = admin.list_group_offsets(s.app_id).get(s.app_id, {})
        topics = set(s.cdc_topics().values()) | {s.state_topic}
        tps = [tp for tp in committed if tp.topic in topics]
        ends = consumer.end_offsets(tps) if tps else {}
        total = 0
        out(f"worker     consumer group {s.app_id}:" + ("" if tps else " no committed offsets yet"))
        for tp in sorted(tps):
            lag = ends[tp] - committed[tp].offset
            total += lag
            out(
                f"           {tp.topic}[{tp.partition}]"
                f" committed {committed[tp].offset} end {ends[tp]} lag {lag}"
            )
        if tps:
            out(f"           total lag {total}")
        _dead_letters(consumer, s.dlq_topic, out)
    finally:
        consumer.close()
        admin.close()


def _dead_letters(consumer: Any, topic: str, out: Callable[[str], None], last: int = 5) -> None:
    from kafka import TopicPartition

    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        out(f"dead letters: none ({topic} does not exist yet)")
        return
    ends = consumer.end_offsets(tps)
    begins = consumer.beginning_offsets(tps)
    out(f"dead letters: {sum(ends[tp] - begins[tp] for tp in tps)} on {topic}")
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(begins[tp], ends[tp] - last))
    records: list[Any] = []
    deadline = time.monotonic() + 5
    while any(consumer.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    for record in sorted(records, key=lambda r: r.timestamp)[-last:]:
        try:
            letter = json.loads(record.value)
            out(
                f"  {letter.get('stage')} {letter.get('reason')} {letter.get('key') or ''}:"
                f" {str(letter.get('error'))[:120]}"
            )
        except (TypeError, ValueError):
            out(f"  unreadable record at {record.topic}[{record.partition}]@{record.offset}")


def _harbor(out: Callable[[str], None]) -> None:
    from streams.settings import Settings

    url = Settings().harbor_url.rstrip("/")
    httpx.get(f"{url}/api/v2.0/ping", timeout=3.0).raise_for_status()
    out(f"harbor     {url}: answers")


def _cmd_status(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("kafka").setLevel(logging.WARNING)  # connection chatter is not status
    code = 0
    for part in (_connector, _worker, _harbor):
        try:
            part(print)
        except Exception as exc:  # noqa: BLE001 - each part reports its own failure, the rest still print
            print(f"  ({part.__name__.strip('_')} not readable: {exc.__class__.__name__}: {exc})")
            code = 1
    return code


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="connector position, worker lag, dead letters, Harbor reachability")
    p.set_defaults(func=_cmd_status)
