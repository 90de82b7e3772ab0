"""Reading the MySQL/MariaDB binlog fast: events (events.py), table maps and row decoders (tables.py),
and the replication connection (reader.py). python-mysql-replication parses each new TABLE_MAP and
any row the fast decoder does not know; everything after that is cached per table-map signature."""

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
from connectors.binlog.reader import BinlogReader, ReaderConfig, StartPosition
from connectors.binlog.tables import TableInfo, TableMapCache

__all__ = [
    "BinlogEvent",
    "BinlogReader",
    "GtidEvent",
    "HeartbeatEvent",
    "QueryEvent",
    "ReaderConfig",
    "RotateEvent",
    "RowsEvent",
    "SkippedTransactionEvent",
    "StartPosition",
    "TableInfo",
    "TableMapCache",
    "XidEvent",
]
