"""One reader per source: a MySQL named lock (GET_LOCK) held on a connection of its own.

The task acquires the lease before it reads anything and checks it at every checkpoint, before
an offset is stored: a connector whose lock connection died (and whose lock another instance may
now hold) stops instead of streaming beside the new holder. A second instance waits up to
`wait_s` for the lock, then refuses with LeaseHeldError. MySQL frees the lock by itself when the
holder's connection ends, so a killed connector never leaves a stale lease behind.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from connectors.errors import LeaseHeldError, RetriableError, classify

__all__ = ["MySQLLease", "lease_name"]

log = logging.getLogger(__name__)


def lease_name(offsets_topic: str, key: bytes) -> str:
    # MySQL limits lock names to 64 characters.
    digest = hashlib.sha1(offsets_topic.encode() + b"\0" + key).hexdigest()[:40]
    return f"hopsharbor-connector:{digest}"


class MySQLLease:
    def __init__(self, connect: Callable[[], Any], name: str, wait_s: float = 0.0) -> None:
        self._connect = connect
        self.name = name
        self.wait_s = wait_s
        self._conn: Any = None

    def acquire(self) -> None:
        """Raises LeaseHeldError when another instance still holds the lock after wait_s."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT GET_LOCK(%s, %s), IS_USED_LOCK(%s), CONNECTION_ID()",
                    (self.name, self.wait_s, self.name),
                )
                got, holder, me = cur.fetchone()
        except Exception as exc:
            self.close()
            raise classify(exc) from exc
        if got != 1:
            self.close()
            raise LeaseHeldError(
                f"another connector instance (MySQL connection {holder}) is reading this source "
                f"(lease {self.name}); stop it first, or set HOPSHARBOR_LEASE_WAIT_S to wait for it"
            )
        log.info("lease %s acquired (connection %s)", self.name, me)

    def check(self) -> None:
        """Raises RetriableError when the lease is no longer ours (then the task re-acquires or stops)."""
        try:
            if self._conn is None:
                raise RetriableError("lease connection is gone", "lease")
            with self._conn.cursor() as cur:
                cur.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,))
                (ours,) = cur.fetchone()
        except RetriableError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            err = classify(exc)
            raise RetriableError(f"lease check failed: {err}", "lease") from exc
        if ours != 1:
            self.close()
            raise RetriableError("the lease was lost", "lease")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # closing the connection releases the lock
            except Exception:  # noqa: BLE001 - already broken
                pass
