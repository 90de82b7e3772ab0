"""The conda_commands life-cycle follower: which change means build, remove, or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from streams.images.errors import TerminalImageError
from streams.images.lifecycle import Action, follow

pytestmark = pytest.mark.unit


def row(status: str, op: str = "INSTALL", **extra: Any) -> dict[str, Any]:
    base = {
        "id": 12,
        "project_id": 7,
        "op": op,
        "status": status,
        "lib": "numpy",
        "version": "1.26.4",
        "install_type": "PIP",
        "created": 1700000000123,
        "user_id": 3,
    }
    return {**base, **extra}


def test_install_life_builds_only_on_delete_after_ongoing() -> None:
    steps = [
        ("c", None, row("NEW")),
        ("u", row("NEW"), row("ONGOING")),
        ("d", row("ONGOING"), None),
    ]
    decisions = [follow(op, before, after) for op, before, after in steps]
    assert [d.action for d in decisions] == [Action.IGNORE, Action.IGNORE, Action.BUILD]
    assert decisions[-1].command is not None and decisions[-1].command.lib == "numpy"


def test_failed_command_does_not_build() -> None:
    failed = follow("u", row("ONGOING"), row("FAILED", error_message="no such package"))
    assert failed.action == Action.FAILED
    # Hopsworks deletes a FAILED row later (a retry by the user): still no build.
    assert follow("d", row("FAILED"), None).action == Action.IGNORE
    # An unrelated update of a row already FAILED is not a second failure.
    assert follow("u", row("FAILED"), row("FAILED", error_message="x")).action == Action.IGNORE


def test_cancelled_command_does_not_build() -> None:
    decision = follow("d", row("NEW"), None)
    assert (decision.action, decision.reason) == (Action.IGNORE, "cancelled")


@pytest.mark.parametrize(
    ("op", "action"),
    [
        ("CREATE", Action.BASE),
        ("SYNC_BASE_ENV", Action.BASE),
        ("UNINSTALL", Action.BUILD),
        ("EXPORT", Action.IGNORE),
        ("IMPORT", Action.UNSUPPORTED),
        ("CUSTOM_COMMANDS", Action.UNSUPPORTED),
        ("SOMETHING_NEW", Action.UNSUPPORTED),
    ],
)
def test_success_by_op(op: str, action: Action) -> None:
    assert follow("d", row("ONGOING", op=op), None).action == action


def test_remove_acts_when_inserted_and_on_snapshot() -> None:
    remove = row("NEW", op="REMOVE", lib=None, version=None, arg="demo:1700000000123-4.0.0.3")
    assert follow("c", None, remove).action == Action.REMOVE
    assert follow("r", None, remove).action == Action.REMOVE
    assert follow("d", row("ONGOING", op="REMOVE"), None).action == Action.IGNORE


def test_snapshot_of_pending_rows_builds_nothing() -> None:
    for status in ("NEW", "ONGOING", "FAILED"):
        assert follow("r", None, row(status)).action == Action.IGNORE


def test_created_accepts_millis_and_iso_text() -> None:
    millis = follow("d", row("ONGOING", created=1700000000123), None).command
    iso = follow("d", row("ONGOING", created="2023-11-14T22:13:20.123Z"), None).command
    naive = follow("d", row("ONGOING", created="2023-11-14 22:13:20.123"), None).command
    assert millis is not None and iso is not None and naive is not None
    assert millis.created == iso.created == naive.created == 1700000000123


def test_bad_row_is_terminal() -> None:
    with pytest.raises(TerminalImageError) as info:
        follow("d", {"id": "x", "op": "INSTALL"}, None)
    assert info.value.reason == "bad_command"
