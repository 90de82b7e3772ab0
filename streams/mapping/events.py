"""Parse one Debezium change event (MySQL connector format) from the raw Kafka record.

Called by the ingest agent for every record of a CDC topic. A tombstone (null value, which
follows every delete so that compaction can drop the key) parses to None. Anything else that is
not a well-formed envelope raises `MalformedEvent` with a short reason from a bounded set (the
DLQ metric label), and the agent sends the original bytes to the dead-letter topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CDC_TABLES", "OPS", "ChangeEvent", "MalformedEvent", "parse_change_event", "table_of_topic"]

CDC_TABLES: tuple[str, ...] = ("users", "project", "project_team")
OPS: tuple[str, ...] = ("c", "u", "d", "r")  # create, update, delete, snapshot read


class MalformedEvent(ValueError):
    """A record that is not a change event this worker can apply. Terminal: goes to the DLQ."""

    REASONS = ("not_json", "not_envelope", "bad_op", "missing_row", "bad_row", "unknown_table")

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ChangeEvent:
    """One row change. `before` is None for c/r, `after` is None for d."""

    table: str
    op: str
    key: Mapping[str, Any] | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    source_ts_ms: int | None  # commit time in the database
    ts_ms: int | None  # when the connector produced the event

    @property
    def row(self) -> Mapping[str, Any]:
        """The row as it is now (after), or as it was when deleted (before)."""
        row = self.after if self.after is not None else self.before
        assert row is not None  # guaranteed by parse_change_event
        return row


def table_of_topic(topic: str) -> str:
    """`<prefix>.<db>.<table>` -> `<table>`."""
    return topic.rsplit(".", 1)[-1]


def _load(raw: bytes | str | None, what: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent("not_json", f"{what} is not JSON: {exc}") from None


def _unwrap(doc: Any) -> Any:
    # Debezium with schemas enabled wraps each document as {"schema": …, "payload": …}.
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        return doc["payload"]
    return doc


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_change_event(table: str, key: bytes | str | None, value: bytes | str | None) -> ChangeEvent | None:
    """Decode a CDC record of `table`. Returns None for a tombstone; raises `MalformedEvent`."""
    if table not in CDC_TABLES:
        raise MalformedEvent("unknown_table", f"no mapping for table {table!r}")
    doc = _unwrap(_load(value, "value"))
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise MalformedEvent("not_envelope", f"value is a {type(doc).__name__}, not an object")
    op = doc.get("op")
    if op not in OPS:
        raise MalformedEvent("bad_op", f"op {op!r} is not one of {OPS}")
    before, after = doc.get("before"), doc.get("after")
    for name, row in (("before", before), ("after", after)):
        if row is not None and not isinstance(row, dict):
            raise MalformedEvent("not_envelope", f"{name} is a {type(row).__name__}, not an object")
    if op == "d" and before is None:
        raise MalformedEvent("missing_row", "delete without a before image")
    if op != "d" and after is None:
        raise MalformedEvent("missing_row", f"op {op!r} without an after image")
    key_doc = _unwrap(_load(key, "key")) if key is not None else None
    source = doc.get("source")
    source_ts = _optional_int(source.get("ts_ms")) if isinstance(source, dict) else None
    return ChangeEvent(
        table=table,
        op=op,
        key=key_doc if isinstance(key_doc, dict) else None,
        before=before,
        after=after,
        source_ts_ms=source_ts,
        ts_ms=_optional_int(doc.get("ts_ms")),
    )
