"""The streaming position while it moves: which transaction, how far into it.

Owned by the streaming source, updated for every transaction boundary and rows event, frozen into
a SourceOffset by `offset()` whenever the checkpoint stores one. GTID bookkeeping differs by
server: MariaDB keeps one `domain-server-seq` per replication domain (a *position*), MySQL a GTID
*set* (`uuid:1-100,...`), merged with python-mysql-replication's GtidSet.
"""

from __future__ import annotations

from typing import Any

from connectors.offsets import SourceOffset

__all__ = ["OffsetContext", "MariaDBGtidPosition"]


class MariaDBGtidPosition:
    """`0-1-5,1-2-9`: the last GTID applied per domain."""

    def __init__(self, text: str | None) -> None:
        self.by_domain: dict[str, str] = {}
        for part in (text or "").split(","):
            part = part.strip()
            if part:
                self.by_domain[part.split("-", 1)[0]] = part

    def add(self, gtid: str) -> None:
        self.by_domain[gtid.split("-", 1)[0]] = gtid

    def __str__(self) -> str:
        return ",".join(self.by_domain[d] for d in sorted(self.by_domain, key=int))


class _MySQLGtidSet:
    def __init__(self, text: str | None) -> None:
        from pymysqlreplication.gtid import GtidSet

        self._set = GtidSet(text or None)

    def add(self, gtid: str) -> None:
        from pymysqlreplication.gtid import Gtid

        self._set = self._set + Gtid(gtid)

    def __str__(self) -> str:
        return str(self._set)


class OffsetContext:
    """Position bookkeeping. Between transactions, (file, pos) is where the next one starts and
    `gtids` includes every committed transaction; inside one, (file, pos, gtids) are those of its
    start and `event`/`row` count what of it was already published."""

    def __init__(self, start: SourceOffset, is_mariadb: bool) -> None:
        self.file = start.file or ""
        self.pos = start.pos or 4
        self._gtids: Any = (MariaDBGtidPosition if is_mariadb else _MySQLGtidSet)(start.gtids)
        self._gtids_text: str | None = start.gtids
        self.snapshot = start.snapshot
        self.server_id = start.server_id
        self.in_tx = False
        self.tx_gtid: str | None = None
        self.event = 0
        self.row = 0
        self.tx_ts = 0
        self.last_gtid: str | None = None  # GTID of the last committed transaction
        # What a restart inside a transaction must skip of the first transaction it reads.
        self.skip_events = start.event
        self.skip_rows = start.row

    def begin(self, file: str, pos: int, gtid: str | None, ts: int, server_id: int) -> None:
        self.in_tx = True
        self.file = file
        self.pos = pos
        self.tx_gtid = gtid
        self.tx_ts = ts
        self.server_id = server_id
        self.event = 0
        self.row = 0

    def commit(self, file: str, next_pos: int) -> None:
        self.last_gtid = self.tx_gtid
        if self.tx_gtid is not None:
            self._gtids.add(self.tx_gtid)
            self._gtids_text = None
        self.in_tx = False
        self.tx_gtid = None
        self.file = file
        self.pos = next_pos
        self.event = 0
        self.row = 0
        self.skip_events = 0
        self.skip_rows = 0

    def skip_transaction(self, gtid: str, file: str, next_pos: int, server_id: int) -> None:
        """A whole transaction with nothing to publish: as begin + commit, cheaper."""
        self._gtids.add(gtid)
        self._gtids_text = None
        self.last_gtid = gtid
        self.server_id = server_id
        self.file = file
        self.pos = next_pos
        self.skip_events = 0
        self.skip_rows = 0

    def rotate(self, file: str, pos: int) -> None:
        if not self.in_tx:
            self.file = file
            self.pos = pos

    @property
    def gtids(self) -> str | None:
        if self._gtids_text is None:
            self._gtids_text = str(self._gtids) or None
        return self._gtids_text

    def offset(self, ts_ms: int) -> SourceOffset:
        return SourceOffset(
            file=self.file,
            pos=self.pos,
            gtids=self.gtids,
            event=self.event,
            row=self.row,
            snapshot=self.snapshot,
            server_id=self.server_id,
            ts_ms=ts_ms,
        )
