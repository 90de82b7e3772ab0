"""The Faust agents, driven through agent.test_context() (Faust has no in-memory broker)."""

from __future__ import annotations

import json

import pytest

from streams.app import create_app
from streams.app.records import ORIGIN_HEADER, Origin
from streams.settings import Settings
from tests.streams.app.fakes import FakeReconciler, Sinks, Sleeps, classify
from tests.streams.mapping.histories import envelope, project_row, team_row, user_row

pytestmark = pytest.mark.unit


@pytest.fixture
def worker(tmp_path):
    reconciler, sinks = FakeReconciler(), Sinks()
    settings = Settings(app_id="hopsharbor-unit", data_dir=tmp_path, store="memory://", parallelism=2)
    built = create_app(
        settings,
        reconciler,
        classify=classify,
        sleep=Sleeps(),
        state_sink=sinks.state,
        dead_letter_sink=sinks.dead_letter,
    )
    built.app.finalize()
    built.app.conf.store = "memory://"
    built.app.flow_control.resume()
    return built, reconciler, sinks


async def test_ingest_agents_derive_the_project_from_three_topics(worker) -> None:
    built, _, sinks = worker
    async with (
        built.agents["ingest-users"].test_context() as users,
        built.agents["ingest-project"].test_context() as projects,
        built.agents["ingest-project_team"].test_context() as team,
    ):
        await projects.put(
            envelope("c", None, project_row(7, "Demo", "ada@ex.org", creation_status=1)), key=b'{"id": 7}'
        )
        await team.put(
            envelope("c", None, team_row(7, "bob@ex.org", "Data scientist")),
            key=b'{"project_id": 7, "team_member": "bob@ex.org"}',
        )
        await users.put(envelope("c", None, user_row(1, "ada", "ada@ex.org")), key=b'{"uid": 1}')
        await users.put(envelope("c", None, user_row(2, "bob", "bob@ex.org")), key=b'{"uid": 2}')
        await users.put(None, key=b'{"uid": 2}')  # tombstone: ignored
        await users.put(b"not json", key=b'{"uid": 3}')  # malformed: dead-lettered, the agent goes on
        await projects.put(
            envelope("u", project_row(7, "Demo", "ada@ex.org", 1), project_row(7, "Demo", "ada@ex.org")),
            key=b'{"id": 7}',
        )
    assert [e.key.encode() for e, _ in sinks.states] == ["user/ada", "user/bob", "project/demo"]
    state = json.loads(built.tables.desired["project/demo"])
    assert state["members"] == {"ada": 1, "bob": 2}
    assert [(d.stage, d.reason) for d in sinks.letters] == [("ingest", "not_json")]


async def test_reconcile_agent_reconciles_the_key_with_its_origin(worker) -> None:
    built, reconciler, _ = worker
    async with built.agents["ingest-users"].test_context() as users:
        await users.put(envelope("c", None, user_row(1, "ada", "ada@ex.org")), key=b'{"uid": 1}')
    origin = Origin(topic="hw.hw.users", partition=0, offset=12, source_ts_ms=1)
    async with built.agents["reconcile"].test_context() as agent:
        await agent.put(b"{}", key=b"user/ada", headers={ORIGIN_HEADER: origin.model_dump_json().encode()})
        await agent.put(None, key=b"project/gone")
    assert [(k, getattr(d, "username", d)) for k, d in reconciler.calls] == [
        ("user/ada", "ada"),
        ("project/gone", None),
    ]
    assert reconciler.request_ids[0] == "hopsharbor:hw.hw.users:0:12"


def test_reconcile_can_be_switched_off(tmp_path) -> None:
    settings = Settings(app_id="hopsharbor-unit-off", data_dir=tmp_path, reconcile_enabled=False)
    built = create_app(settings, FakeReconciler())
    assert sorted(built.agents) == ["ingest-project", "ingest-project_team", "ingest-users"]
