"""`hopsharbor connector run` and `hopsharbor connector offsets show|set|reset`.

Settings come from the environment (HOPSHARBOR_*, see connectors.settings); the flags below
override the non-secret ones. The MySQL password is never a flag: HOPSHARBOR_MYSQL_PASSWORD or
HOPSHARBOR_MYSQL_PASSWORD_FILE.

Exit codes: 0 done/stopped, 1 fatal error (message logged), 2 configuration refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
from typing import Any

__all__ = ["register"]

log = logging.getLogger("connectors.cli")

_OVERRIDES = {
    # flag dest -> settings field
    "database": "database",
    "tables": "tables",
    "topic_prefix": "topic_prefix",
    "connector_name": "connector_name",
    "kafka_bootstrap": "kafka_bootstrap",
    "mysql_host": "mysql_host",
    "mysql_port": "mysql_port",
    "mysql_user": "mysql_user",
    "offsets_topic": "offsets_topic",
    "snapshot_mode": "snapshot_mode",
    "server_id": "server_id",
    "metrics_port": "metrics_port",
    "lease_wait_s": "lease_wait_s",
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="database to capture (default hopsworks)")
    parser.add_argument("--topic-prefix", help="topic prefix: topics are <prefix>.<db>.<table>")
    parser.add_argument("--connector-name", help="name in source.name and in the offset key")
    parser.add_argument("--kafka-bootstrap", help="host:port of Kafka")
    parser.add_argument("--mysql-host")
    parser.add_argument("--mysql-port", type=int)
    parser.add_argument("--mysql-user")
    parser.add_argument("--offsets-topic", help="default <prefix>.connector-offsets")


def register(subparsers: Any) -> None:
    conn = subparsers.add_parser("connector", help="the binlog connector (MySQL/MariaDB -> Kafka)")
    sub = conn.add_subparsers(dest="connector_command", metavar="ACTION")

    run = sub.add_parser("run", help="snapshot (per snapshot mode) and stream changes to Kafka")
    _common(run)
    run.add_argument("--tables", help="comma-separated tables to capture")
    run.add_argument("--snapshot-mode", choices=["initial", "when_needed", "never", "always"])
    run.add_argument("--server-id", type=int, help="replica server id for the binlog dump")
    run.add_argument("--metrics-port", type=int, help="HTTP port for /metrics and /healthz (0: off)")
    run.add_argument("--lease-wait-s", type=float, help="wait this long for another instance's lease")
    run.set_defaults(func=_run)

    offsets = sub.add_parser("offsets", help="inspect or change the stored offset")
    osub = offsets.add_subparsers(dest="offsets_command", metavar="ACTION")
    show = osub.add_parser("show", help="print the stored offset as JSON")
    _common(show)
    show.set_defaults(func=_offsets_show)
    set_ = osub.add_parser("set", help="store a position to stream from (the connector must be stopped)")
    _common(set_)
    set_.add_argument("--gtids", help="GTID position (MariaDB: 0-1-42) or set (MySQL)")
    set_.add_argument("--file", help="binlog file name")
    set_.add_argument("--pos", type=int, help="offset in the binlog file")
    set_.add_argument(
        "--snapshot",
        choices=["done", "skipped"],
        default="skipped",
        help="snapshot state to store (default skipped: no snapshot at the next start)",
    )
    set_.set_defaults(func=_offsets_set)
    reset = osub.add_parser("reset", help="forget the offset: the next start follows the snapshot mode")
    _common(reset)
    reset.set_defaults(func=_offsets_reset)
    conn.set_defaults(func=lambda args: (conn.print_help(), 2)[1])
    offsets.set_defaults(func=lambda args: (offsets.print_help(), 2)[1])


def _settings(args: argparse.Namespace) -> Any:
    from connectors.settings import ConnectorSettings

    overrides = {
        field: getattr(args, dest)
        for dest, field in _OVERRIDES.items()
        if getattr(args, dest, None) is not None
    }
    return ConnectorSettings(**overrides)


def _run(args: argparse.Namespace) -> int:
    from connectors.http import serve
    from connectors.task import ConnectorTask

    settings = _settings(args)
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    task = ConnectorTask(settings)
    signal.signal(signal.SIGTERM, lambda *_: task.request_stop())
    signal.signal(signal.SIGINT, lambda *_: task.request_stop())
    server = (
        serve(settings.metrics_host, settings.metrics_port, task.healthy) if settings.metrics_port else None
    )
    try:
        return task.run()
    finally:
        if server is not None:
            server.shutdown()


def _tools(settings: Any) -> tuple[Any, Any, Any]:
    import pymysql

    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    from connectors.kafka_sink import KafkaSink, SinkConfig
    from connectors.lease import MySQLLease, lease_name
    from connectors.offsets import OffsetStore, offset_key

    key = offset_key(settings.connector_name, settings.database)
    sink = KafkaSink(SinkConfig(settings.kafka_bootstrap))
    store = OffsetStore(sink, settings.kafka_bootstrap, settings.offsets_topic_name, key)

    def connect() -> Any:
        return pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=settings.mysql_user,
            password=settings.password(),
            autocommit=True,
            connect_timeout=10,
        )

    lease = MySQLLease(connect, lease_name(settings.offsets_topic_name, key), 0.0)
    return sink, store, lease


def _offsets_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sink, store, _lease = _tools(settings)
    offset = store.load()
    print(
        json.dumps(
            {
                "topic": store.topic,
                "key": json.loads(store.key),
                "offset": offset.to_json() if offset else None,
            },
            indent=2,
        )
    )
    return 0


def _change(args: argparse.Namespace, action: str) -> int:
    from connectors.errors import ConnectorError
    from connectors.offsets import SourceOffset

    settings = _settings(args)
    sink, store, lease = _tools(settings)
    try:
        lease.acquire()  # refuse while a connector reads this source: it would overwrite us
        sink.ensure_topics([store.topic], compact=True)
        if action == "reset":
            store.reset()
        else:
            if not args.gtids and not args.file:
                log.error("offsets set needs --gtids or --file/--pos")
                return 2
            store.store(SourceOffset(file=args.file, pos=args.pos, gtids=args.gtids, snapshot=args.snapshot))
        sink.flush()
    except ConnectorError as exc:
        log.error("%s", exc)
        return 1
    finally:
        sink.close()
        lease.close()
    print(f"offset {action} done for {store.key.decode()} in {store.topic}")
    return 0


def _offsets_set(args: argparse.Namespace) -> int:
    return _change(args, "set")


def _offsets_reset(args: argparse.Namespace) -> int:
    return _change(args, "reset")
