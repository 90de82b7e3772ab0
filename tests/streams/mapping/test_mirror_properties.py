"""Property: folding any Hopsworks history event by event gives the desired state computed from
the final tables, whatever the interleaving of the three CDC topics (each topic keeps its order)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.mapping import MappingConfig, Mirror, MirrorTables, derive_all
from tests.streams.mapping.histories import HopsworksDB

pytestmark = pytest.mark.unit

ROLES = ("Data owner", "Data scientist", "Under removal")
NAMES = ("alpha", "Beta", "gamma_1", "Delta2")
STATUSES = (0, 1, 2, 3, 4, 5, 6, 7)


@st.composite
def histories(draw: st.DrawFn) -> HopsworksDB:
    db = HopsworksDB()
    for _ in range(draw(st.integers(min_value=1, max_value=40))):
        op = draw(
            st.sampled_from(
                [
                    "add_user",
                    "add_user",
                    "status",
                    "rename",
                    "del_user",
                    "add_project",
                    "finish",
                    "fail",
                    "image",
                    "add_member",
                    "add_member",
                    "role",
                    "remove_member",
                    "del_project",
                ]
            )
        )
        uids, pids = sorted(db.users), sorted(db.projects)
        emails = db.emails()
        if op == "add_user" or not uids:
            db.add_user(status=draw(st.sampled_from(STATUSES)), mode=draw(st.sampled_from((0, 1))))
        elif op == "status":
            db.update_user(draw(st.sampled_from(uids)), status=draw(st.sampled_from(STATUSES)))
        elif op == "rename":
            db.update_user(draw(st.sampled_from(uids)), fname=draw(st.sampled_from(("A", "B"))))
        elif op == "del_user":
            db.delete_user(draw(st.sampled_from(uids)))
        elif op == "add_project" or not pids:
            name = draw(st.sampled_from(NAMES))
            if all(p["projectname"].lower() != name.lower() for p in db.projects.values()):
                db.add_project(name, draw(st.sampled_from(emails)))
        elif op in ("finish", "fail"):
            db.update_project(draw(st.sampled_from(pids)), creation_status=0 if op == "finish" else 2)
        elif op == "image":
            db.update_project(draw(st.sampled_from(pids)), docker_image=f"img:{draw(st.integers(0, 3))}")
        elif op == "add_member":
            pid, email = draw(st.sampled_from(pids)), draw(st.sampled_from(emails))
            db.add_member(pid, email, draw(st.sampled_from(ROLES)))
        elif op in ("role", "remove_member") and db.team:
            pid, email = draw(st.sampled_from(sorted(db.team)))
            if op == "role":
                db.set_role(pid, email, draw(st.sampled_from(ROLES)))
            else:
                db.remove_member(pid, email)
        elif op == "del_project":
            db.delete_project(draw(st.sampled_from(pids)))
    return db


@st.composite
def interleavings(draw: st.DrawFn, db: HopsworksDB) -> list:
    """Merge the per-table event sequences in a random order (Kafka orders only within a topic)."""
    queues = {t: [e for e in db.log if e.table == t] for t in ("users", "project", "project_team")}
    order = []
    while any(queues.values()):
        table = draw(st.sampled_from(sorted(t for t, q in queues.items() if q)))
        order.append(queues[table].pop(0))
    return order


CONFIGS = (
    MappingConfig(),
    MappingConfig(db_auth=False, service_accounts={"u3@ex.org": None}, default_quota=10),
)


def desired_of(mirror: Mirror) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in mirror.tables.desired.items()}


def expected(db: HopsworksDB, config: MappingConfig) -> dict[str, dict]:
    return {k.encode(): json.loads(v.model_dump_json()) for k, v in derive_all(*db.rows(), config).items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(db=histories(), config=st.sampled_from(CONFIGS))
def test_commit_order_gives_the_final_tables_state(db: HopsworksDB, config: MappingConfig) -> None:
    mirror = Mirror(MirrorTables.in_memory(), config)
    emitted: dict[str, str | None] = {}
    for event in db.log:
        for emission in mirror.apply(event):
            emitted[emission.key.encode()] = emission.value
    want = expected(db, config)
    assert desired_of(mirror) == want
    # the compacted state topic (last value per key, tombstones dropped) says the same
    assert {k: json.loads(v) for k, v in emitted.items() if v is not None} == want


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), db=histories(), config=st.sampled_from(CONFIGS))
def test_any_topic_interleaving_gives_the_final_tables_state(
    data: st.DataObject, db: HopsworksDB, config: MappingConfig
) -> None:
    mirror = Mirror(MirrorTables.in_memory(), config)
    for event in data.draw(interleavings(db)):
        mirror.apply(event)
    assert desired_of(mirror) == expected(db, config)
