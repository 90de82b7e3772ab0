"""Where the connector is: the offset value object and its one loader/store (a compacted topic).

Semantics (as Debezium's MySQL offsets): `file`/`pos`/`gtids` point at the start of the
transaction being read (`gtids` is the GTID position *before* it); `event` rows events of that
transaction were fully published and `row` rows of the next one. At a transaction end the offset
moves past it and event=row=0. A restart resumes at the transaction start and skips exactly
`event` events and `row` rows, so nothing is lost and nothing before the offset is repeated.

Snapshot state: `snapshot` is "running" while the initial snapshot is being published (then
`snapshot_table`/`snapshot_key` say the last row published, by primary key, and file/pos/gtids are
the position the snapshot was taken at), "done" after it, "skipped" when streaming started
without one (snapshot mode never).

The store writes offsets with the same idempotent producer as the events, and only after a flush
has acknowledged every event the offset covers (the caller, connectors.checkpoint, does that).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from connectors.errors import OffsetsError

__all__ = ["SourceOffset", "OffsetStore", "offset_key"]

log = logging.getLogger(__name__)

SnapshotState = Literal["running", "done", "skipped"]


@dataclass(frozen=True)
class SourceOffset:
    file: str | None = None
    pos: int | None = None
    gtids: str | None = None
    event: int = 0
    row: int = 0
    snapshot: SnapshotState | None = None
    snapshot_table: str | None = None
    snapshot_key: list[Any] | None = None
    server_id: int | None = None
    ts_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["extra"]:
            del data["extra"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceOffset:
        known = {f for f in cls.__dataclass_fields__}
        unknown = {k: v for k, v in data.items() if k not in known}
        values = {k: v for k, v in data.items() if k in known}
        if unknown:
            values["extra"] = {**values.get("extra", {}), **unknown}
        if values.get("snapshot") not in (None, "running", "done", "skipped"):
            raise OffsetsError(f"unknown snapshot state {values.get('snapshot')!r} in stored offset")
        try:
            return cls(**values)
        except TypeError as exc:
            raise OffsetsError(f"unusable stored offset {data!r}: {exc}") from exc

    def with_(self, **changes: Any) -> SourceOffset:
        return replace(self, **changes)

    def describe(self) -> str:
        where = f"gtids={self.gtids} file={self.file} pos={self.pos}"
        return f"{where} event={self.event} row={self.row} snapshot={self.snapshot}"


def offset_key(connector_name: str, database: str) -> bytes:
    return json.dumps(
        {"connector": connector_name, "db": database}, sort_keys=True, separators=(",", ":")
    ).encode()


class OffsetStore:
    """Loads and stores the SourceOffset of one connector in a compacted topic.

    `load()` is called by the task at each (re)start and by `offsets show`; it reads the whole
    topic (it is compacted, so small). `store()` is called by the checkpoint after a flush; it
    does not wait: the next flush acknowledges it.
    """

    def __init__(
        self, sink: Any, bootstrap: str, topic: str, key: bytes, consumer_factory: Any = None
    ) -> None:
        self._sink = sink
        self._bootstrap = bootstrap
        self.topic = topic
        self.key = key
        self._consumer_factory = consumer_factory

    def _consumer(self) -> Any:
        if self._consumer_factory is not None:
            return self._consumer_factory()
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            group_id=None,
            consumer_timeout_ms=2000,
            request_timeout_ms=30000,
        )

    def load(self) -> SourceOffset | None:
        from kafka import TopicPartition

        consumer = self._consumer()
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            if not partitions:
                return None
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            latest: bytes | None = None
            found = False
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batch = consumer.poll(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        if record.key == self.key:
                            latest, found = record.value, True
                for tp in list(pending):
                    if consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            if not found or latest is None:
                return None
            return SourceOffset.from_json(json.loads(latest))
        finally:
            consumer.close()

    def store(self, offset: SourceOffset) -> None:
        self._sink.send(self.topic, self.key, json.dumps(offset.to_json(), separators=(",", ":")).encode())

    def reset(self) -> None:
        """Write a tombstone: the next start behaves as if it had never run."""
        self._sink.send(self.topic, self.key, None)
