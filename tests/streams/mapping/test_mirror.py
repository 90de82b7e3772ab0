from __future__ import annotations

import json

import pytest

from streams.mapping import MappingConfig, Mirror, MirrorTables, project_key, user_key
from tests.streams.mapping.histories import HopsworksDB

pytestmark = pytest.mark.unit


def run(db: HopsworksDB, mirror: Mirror, start: int = 0) -> list:
    out = []
    for event in db.log[start:]:
        out.extend(mirror.apply(event))
    return out


def test_project_lifecycle_emits_states_and_tombstone() -> None:
    db, mirror = HopsworksDB(), Mirror(MirrorTables.in_memory(), MappingConfig())
    ada, bob = db.add_user(), db.add_user()
    pid = db.add_project("Demo", ada["email"])
    emitted = run(db, mirror)
    # users first; the ONGOING project is not desired yet
    assert [e.key for e in emitted] == [user_key("u1"), user_key("u2")]
    mark = len(db.log)
    db.update_project(pid, creation_status=0)
    db.add_member(pid, bob["email"], "Data scientist")
    emitted = run(db, mirror, mark)
    assert [e.key for e in emitted] == [project_key("demo")] * 2
    assert emitted[-1].state.members == {"u1": 1, "u2": 2}
    mark = len(db.log)
    db.delete_project(pid)
    emitted = run(db, mirror, mark)
    # the Under-removal update drops bob, then the delete is a tombstone
    assert [(e.key, e.state and e.state.members) for e in emitted] == [
        (project_key("demo"), {"u1": 1}),
        (project_key("demo"), None),
    ]
    assert emitted[-1].value is None
    assert project_key("demo").encode() not in mirror.tables.desired
    assert mirror.tables.teams == {}


def test_status_change_makes_every_project_of_the_user_dirty() -> None:
    db, mirror = HopsworksDB(), Mirror(MirrorTables.in_memory(), MappingConfig())
    ada, bob = db.add_user(), db.add_user()
    p1, p2 = db.add_project("p1", ada["email"]), db.add_project("p2", ada["email"])
    for pid in (p1, p2):
        db.update_project(pid, creation_status=0)
        db.add_member(pid, bob["email"], "Data owner")
    run(db, mirror)
    mark = len(db.log)
    db.update_user(bob["uid"], status=4)  # blocked
    emitted = run(db, mirror, mark)
    assert [e.key for e in emitted] == [user_key("u2"), project_key("p1"), project_key("p2")]
    assert emitted[0].state.active is False
    assert all(e.state.members == {"u1": 1} for e in emitted[1:])
    mark = len(db.log)
    db.update_user(bob["uid"], status=2)
    assert all(
        "u2" in (e.state.members if e.key.kind == "project" else {"u2": 0}) for e in run(db, mirror, mark)
    )


def test_unchanged_desired_state_emits_nothing() -> None:
    db, mirror = HopsworksDB(), Mirror(MirrorTables.in_memory(), MappingConfig())
    ada = db.add_user()
    pid = db.add_project("p1", ada["email"])
    db.update_project(pid, creation_status=0)
    run(db, mirror)
    mark = len(db.log)
    db.update_user(ada["uid"], notes="irrelevant column")
    assert run(db, mirror, mark) == []
    # replaying the whole history onto the same tables passes through old states but ends where it was
    final = dict(mirror.tables.desired)
    run(db, mirror)
    assert mirror.tables.desired == final


def test_owner_arriving_after_the_project_resolves_pending() -> None:
    db, mirror = HopsworksDB(), Mirror(MirrorTables.in_memory(), MappingConfig())
    ada = db.add_user()
    pid = db.add_project("p1", ada["email"])
    db.update_project(pid, creation_status=0)
    user_events = [e for e in db.log if e.table == "users"]
    others = [e for e in db.log if e.table != "users"]
    assert [x for e in others for x in mirror.apply(e)] == []  # owner unknown: pending
    emitted = [x for e in user_events for x in mirror.apply(e)]
    assert [e.key for e in emitted] == [user_key("u1"), project_key("p1")]
    assert json.loads(emitted[1].value)["members"] == {"u1": 1}


def test_deleted_user_leaves_every_team_without_binlog_rows() -> None:
    db, mirror = HopsworksDB(), Mirror(MirrorTables.in_memory(), MappingConfig())
    ada, bob = db.add_user(), db.add_user()
    pid = db.add_project("p1", ada["email"])
    db.update_project(pid, creation_status=0)
    db.add_member(pid, bob["email"], "Data scientist")
    run(db, mirror)
    mark = len(db.log)
    assert db.delete_user(bob["uid"])
    emitted = run(db, mirror, mark)
    assert [(e.key, e.state and e.state.members) for e in emitted] == [
        (user_key("u2"), None),
        (project_key("p1"), {"u1": 1}),
    ]
    assert mirror.tables.teams[str(pid)] == {ada["email"]: "Data owner"}
    assert bob["email"] not in mirror.tables.memberships
