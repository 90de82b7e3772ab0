"""The connector's exceptions and the one place that decides retriable vs fatal.

    ConnectorError                 root of everything the connector raises on purpose
    ├── RetriableError             the task reconnects with backoff and resumes from the stored offset
    │                              (MySQL or Kafka gone away, timeouts, a failed produce)
    └── FatalError                 the task stops with exit code 1 and says what to change
        ├── ServerConfigError      binlog_format/row_image/row_metadata not ROW/FULL/FULL, no binlog
        ├── PositionPurgedError    the stored position is no longer on the server
        ├── LeaseHeldError         another instance reads this source
        └── OffsetsError           the offsets topic holds something unusable

`classify(exc)` translates library errors (pymysql, kafka-python, sockets) at the boundary: the
task calls it on anything its sources raise. `kind` is the bounded label of the errors metric.
"""

from __future__ import annotations

import socket

import pymysql

__all__ = [
    "ConnectorError",
    "RetriableError",
    "FatalError",
    "ServerConfigError",
    "PositionPurgedError",
    "LeaseHeldError",
    "OffsetsError",
    "ERROR_KINDS",
    "classify",
]

ERROR_KINDS = ("mysql", "kafka", "purged", "config", "lease", "offsets", "decode", "other")


class ConnectorError(Exception):
    retriable = False
    kind = "other"


class RetriableError(ConnectorError):
    retriable = True

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class FatalError(ConnectorError):
    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class ServerConfigError(FatalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "config")


class PositionPurgedError(FatalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "purged")


class LeaseHeldError(FatalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "lease")


class OffsetsError(FatalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "offsets")


# MySQL client/server codes after which a new connection may well succeed.
_MYSQL_RETRIABLE = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection
    2014,
    2055,
    1927,  # connection killed
}
_MYSQL_PURGED = 1236  # ER_MASTER_FATAL_ERROR_READING_BINLOG: position/GTID state not in the binlogs


def classify(exc: BaseException) -> ConnectorError:
    """Map any exception raised while snapshotting or streaming to a ConnectorError."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, pymysql.err.MySQLError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if code == _MYSQL_PURGED:
            return PositionPurgedError(
                f"the binlog position is no longer on the server: {str(exc.args[-1]).rstrip('.')}"
            )
        if code in _MYSQL_RETRIABLE or isinstance(exc, pymysql.err.InterfaceError):
            return RetriableError(f"MySQL: {exc}", "mysql")
        return FatalError(f"MySQL: {exc}", "mysql")
    try:
        import kafka.errors as kerr
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        kerr = None  # type: ignore[assignment]
    if kerr is not None and isinstance(exc, kerr.KafkaError):
        # Brokers down, timeouts, leadership changes: retriable. Configuration and authorization
        # problems, oversized records: nothing a reconnect can fix.
        fatal = tuple(
            getattr(kerr, n)
            for n in (
                "KafkaConfigurationError",
                "IllegalArgumentError",
                "UnsupportedCodecError",
                "AuthorizationError",
                "MessageSizeTooLargeError",
            )
            if hasattr(kerr, n)
        )
        if isinstance(exc, fatal):
            return FatalError(f"Kafka: {exc!r}", "kafka")
        return RetriableError(f"Kafka: {exc!r}", "kafka")
    if type(exc).__name__ == "_KafkaDeliveryError":
        cls = RetriableError if getattr(exc, "retriable", False) else FatalError
        return cls(f"Kafka: {exc}", "kafka")
    if isinstance(exc, TimeoutError | socket.timeout | ConnectionError | OSError | EOFError):
        return RetriableError(f"connection: {exc!r}", "mysql")
    if isinstance(exc, UnicodeDecodeError | struct_error()):
        return FatalError(f"cannot decode a binlog event: {exc!r}", "decode")
    return FatalError(f"unexpected: {exc!r}", "other")


def struct_error() -> type[BaseException]:
    import struct

    return struct.error
