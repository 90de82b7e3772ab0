from __future__ import annotations

import base64

import pytest
from prometheus_client import REGISTRY

from streams.app.ingest import Ingestor
from streams.app.records import Origin
from streams.desired.model import StateKey
from streams.mapping import MappingConfig, Mirror, MirrorTables
from tests.streams.app.fakes import Sinks
from tests.streams.mapping.histories import envelope, project_row, user_row

pytestmark = pytest.mark.unit

AT = Origin(topic="hw.hw.users", partition=0, offset=3)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make() -> tuple[Ingestor, Sinks, MirrorTables]:
    tables, sinks = MirrorTables.in_memory(), Sinks()
    return (
        Ingestor(Mirror(tables, MappingConfig()), sinks.state, sinks.dead_letter, clock=lambda: 5.0),
        sinks,
        tables,
    )


async def test_events_become_states_sent_before_they_are_recorded() -> None:
    ingestor, sinks, tables = make()
    recorded_when_sent: list[bool] = []
    sinks.on_state = lambda e, o: recorded_when_sent.append(e.key.encode() in tables.desired)
    before = sample("hopsharbor_worker_events_total", table="users", op="c")
    await ingestor.handle(
        "users", b'{"uid":1}', envelope("c", None, user_row(1, "ada", "ada@ex.org"), ts_ms=77), AT
    )
    await ingestor.handle(
        "project",
        b'{"id":1}',
        envelope("c", None, project_row(1, "Demo", "ada@ex.org"), ts_ms=78),
        AT.model_copy(update={"topic": "hw.hw.project"}),
    )
    assert [(e.key, o.source_ts_ms, o.topic) for e, o in sinks.states] == [
        (StateKey.decode("user/ada"), 77, "hw.hw.users"),
        (StateKey.decode("project/demo"), 78, "hw.hw.project"),
    ]
    assert recorded_when_sent == [False, False]
    assert set(tables.desired) == {"user/ada", "project/demo"}
    assert sample("hopsharbor_worker_events_total", table="users", op="c") - before == 1


async def test_tombstones_are_ignored() -> None:
    ingestor, sinks, _ = make()
    before = sample("hopsharbor_worker_events_total", table="users", op="tombstone")
    assert await ingestor.handle("users", b'{"uid":1}', None, AT) == []
    assert sinks.states == [] and sinks.letters == []
    assert sample("hopsharbor_worker_events_total", table="users", op="tombstone") - before == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\x00garbage", "not_json"),
        (envelope("c", None, {"uid": "not a number", "username": "x"}), "bad_row"),
    ],
)
async def test_malformed_records_go_to_the_dlq_and_processing_continues(value: bytes, reason: str) -> None:
    ingestor, sinks, tables = make()
    before = sample("hopsharbor_dlq_records_total", reason=reason)
    assert await ingestor.handle("users", b'{"uid":9}', value, AT) == []
    [letter] = sinks.letters
    assert (letter.stage, letter.reason, letter.at) == ("ingest", reason, 5.0)
    assert (letter.origin.topic, letter.origin.partition, letter.origin.offset) == ("hw.hw.users", 0, 3)
    assert base64.b64decode(letter.raw_value) == value and base64.b64decode(letter.raw_key) == b'{"uid":9}'
    assert sample("hopsharbor_dlq_records_total", reason=reason) - before == 1
    assert tables.users == {}
    await ingestor.handle("users", b'{"uid":1}', envelope("c", None, user_row(1, "ada", "ada@ex.org")), AT)
    assert [e.key.encode() for e, _ in sinks.states] == ["user/ada"]
