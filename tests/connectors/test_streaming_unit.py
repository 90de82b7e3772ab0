"""StreamingSource against scripted binlog events: exact event sequences, offsets, restarts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from connectors.checkpoint import Checkpointer
from connectors.dispatcher import EventDispatcher
from connectors.offsets import SourceOffset
from connectors.streaming import StreamingSource
from schemas import change_event_schema

from .fakes import OTHER, USERS, MemoryStore, NoLease, RecordingSink, ScriptedReader, ddl, rotate, tx

pytestmark = pytest.mark.unit

VALIDATOR = jsonschema.Draft202012Validator(change_event_schema())


def u(uid: int, email: str) -> dict[str, Any]:
    return {"uid": uid, "email": email}


def run(
    events: list[Any], start: SourceOffset, interval_s: float = 3600.0
) -> tuple[RecordingSink, MemoryStore, SourceOffset, ScriptedReader]:
    sink = RecordingSink()
    store = MemoryStore(sink)
    dispatcher = EventDispatcher(sink, "p", "db", "test", clock=lambda: 1700000001.0)
    checkpointer = Checkpointer(sink, store, NoLease(), dispatcher, interval_s)
    reader = ScriptedReader(events)

    def factory(pos: Any) -> ScriptedReader:
        reader.started_at = pos
        return reader

    source = StreamingSource(
        factory, dispatcher, checkpointer, stop_requested=lambda: False, clock=lambda: 1700000001.0
    )
    final = source.run(start)
    return sink, store, final, reader


START = SourceOffset(file="binlog.000001", pos=4, gtids="0-1-9", snapshot="done")


def script() -> list[Any]:
    return [
        rotate("binlog.000001"),
        *tx(10, 1000, ("c", USERS, [u(1, "a@x"), u(2, "b@x")])),  # multi-row insert
        *tx(
            11,
            2000,
            ("u", USERS, [(u(1, "a@x"), u(1, "a2@x"))]),  # multi-statement tx
            ("c", OTHER, None),
            ("d", USERS, [u(2, "b@x")]),
        ),
        *ddl(12, 3000, "ALTER TABLE users ADD COLUMN x int"),
        *tx(13, 4000, ("c", USERS, [u(3, "c@x")])),
    ]


def test_exact_event_sequence_with_tombstones_and_valid_envelopes() -> None:
    sink, _store, final, _ = run(script(), START)
    topics = [t for t, _k, _v in sink.records if not t.endswith("offsets")]
    assert set(topics) == {"p.db.users"}
    seq = [
        (k, v and (v["op"], v["before"], v["after"]))
        for k, v in (
            (k.decode() if k else None, e) for (_t, k, _), e in zip(sink.records, sink.events(), strict=True)
        )
    ]
    assert seq == [
        ('{"uid":1}', ("c", None, u(1, "a@x"))),
        ('{"uid":2}', ("c", None, u(2, "b@x"))),
        ('{"uid":1}', ("u", u(1, "a@x"), u(1, "a2@x"))),
        ('{"uid":2}', ("d", u(2, "b@x"), None)),
        ('{"uid":2}', None),  # tombstone
        ('{"uid":3}', ("c", None, u(3, "c@x"))),
    ]
    for event in sink.events():
        if event is not None:
            VALIDATOR.validate(event)
    src = sink.events()[3]["source"]  # the delete: second captured rows event of tx 11, row 0
    assert (src["gtid"], src["file"], src["pos"], src["row"], src["snapshot"]) == (
        "0-1-11",
        "binlog.000001",
        2300,
        0,
        "false",
    )
    assert final.gtids == "0-1-13" and final.pos == 4300 and (final.event, final.row) == (0, 0)


def test_restart_inside_a_transaction_skips_exactly_what_was_published() -> None:
    # Stored mid-tx-11: 1 rows event done (the update), none of the next.
    # The reader resumes at the start of tx 11 (GTID position before it = 0-1-10).
    resume = SourceOffset(file="binlog.000001", pos=2000, gtids="0-1-10", event=1, row=0, snapshot="done")
    sink, _store, final, reader = run(script()[4:], resume)
    assert reader.started_at.gtids == "0-1-10"
    ops = [(e["op"], (e["after"] or e["before"])["uid"]) for e in sink.events() if e]
    # the skipped OTHER event counts as event 2; the delete (event 3) is published, not the update
    assert ops == [("d", 2), ("c", 3)]
    assert final.gtids == "0-1-13"


def test_restart_inside_a_multi_row_event_skips_its_published_rows() -> None:
    resume = SourceOffset(file="binlog.000001", pos=1000, gtids="0-1-9", event=0, row=1, snapshot="done")
    sink, *_ = run(script()[1:], resume)
    ops = [(e["op"], (e["after"] or e["before"])["uid"]) for e in sink.events() if e]
    assert ops[0] == ("c", 2), "row 0 of the first event was published before the restart"
    assert ops.count(("c", 1)) == 0


def test_checkpoints_inside_a_transaction_name_its_start_and_counters() -> None:
    sink, store, *_ = run(script(), START, interval_s=0.0)
    mid = [o for o in store.stored if o.event or o.row]
    assert mid, "with interval 0 an offset is stored after every event"
    tx_starts = {1000: "0-1-9", 2000: "0-1-10", 4000: "0-1-12"}
    for offset in mid:
        assert tx_starts[offset.pos] == offset.gtids
    # every offset is stored right after a flush (acknowledgement) of the events before it
    for i, call in enumerate(sink.calls):
        if call == "store":
            assert sink.calls[i - 1] == "flush"


def test_a_skipped_transaction_moves_the_position_past_it() -> None:
    from connectors.binlog import SkippedTransactionEvent

    skipped = SkippedTransactionEvent("binlog.000001", 5000, 5400, 1700000000, 1, "0-1-14", 0, 14, False)
    sink, store, final, _ = run([*script(), skipped], START)
    assert (final.gtids, final.pos, final.event) == ("0-1-14", 5400, 0)
    assert len([e for e in sink.events() if e]) == 5, "nothing published for it"
