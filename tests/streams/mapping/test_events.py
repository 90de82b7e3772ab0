from __future__ import annotations

import pytest

from streams.mapping import MalformedEvent, parse_change_event, table_of_topic
from tests.streams.mapping.histories import envelope, user_row

pytestmark = pytest.mark.unit


def test_parses_plain_and_wrapped_envelopes() -> None:
    row = user_row(1, "ada", "ada@ex.org")
    for wrap in (False, True):
        event = parse_change_event("users", b'{"uid": 1}', envelope("c", None, row, wrap=wrap))
        assert event is not None
        assert (event.op, event.after, event.before, event.key) == ("c", row, None, {"uid": 1})
        assert event.source_ts_ms == 1_700_000_000_000 and event.ts_ms == 1_700_000_000_005
        assert event.row == row


def test_tombstone_is_none() -> None:
    assert parse_change_event("users", b'{"uid": 1}', None) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_envelope"),
        (b'{"op": "x", "after": {}}', "bad_op"),
        (b'{"op": "d", "before": null, "after": null}', "missing_row"),
        (b'{"op": "c", "before": null, "after": null}', "missing_row"),
        (b'{"op": "c", "before": null, "after": 3}', "not_envelope"),
        (b"\xff\xfe", "not_json"),
    ],
)
def test_malformed_events_name_their_reason(value: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_change_event("users", None, value)
    assert info.value.reason == reason
    assert reason in MalformedEvent.REASONS


def test_unknown_table_is_malformed() -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_change_event("conda_commands", None, envelope("c", None, {"id": 1}))
    assert info.value.reason == "unknown_table"


def test_table_of_topic() -> None:
    assert table_of_topic("hopsworks.hopsworks.project_team") == "project_team"
