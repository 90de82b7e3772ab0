from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import REGISTRY

from streams.app.records import Origin
from streams.app.runner import KeyedRunner, RetryPolicy
from streams.desired.model import ProjectState, UserState
from tests.streams.app.fakes import (
    FakeReconciler,
    FakeResult,
    Retriable,
    Sinks,
    Sleeps,
    Terminal,
    changed,
    classify,
)

pytestmark = pytest.mark.unit

EVENT = Origin(topic="hw.hw.project", partition=0, offset=41, source_ts_ms=1_000_000)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def project(name: str, members: dict[str, int] | None = None) -> str:
    return ProjectState(
        name=name, hopsworks_id=1, owner="ada", members=members or {"ada": 1}
    ).model_dump_json()


def make(desired: dict[str, str], reconciler: FakeReconciler, **kwargs) -> tuple[KeyedRunner, Sinks, Sleeps]:
    sinks, sleeps = Sinks(), Sleeps()
    runner = KeyedRunner(
        reconciler,
        desired.get,
        sinks.dead_letter,
        classify=classify,
        sleep=sleeps,
        rng=lambda: 0.5,
        clock=lambda: 1_000.25,
        **kwargs,
    )
    return runner, sinks, sleeps


async def test_reads_the_current_desired_state_and_passes_a_request_id() -> None:
    desired = {"project/demo": project("demo")}
    reconciler = FakeReconciler()
    runner, _, _ = make(desired, reconciler)
    assert await runner.run("project/demo", EVENT) == "done"
    assert await runner.run("project/gone", EVENT) == "done"
    assert reconciler.calls == [
        ("project/demo", ProjectState.model_validate_json(desired["project/demo"])),
        ("project/gone", None),
    ]
    assert reconciler.request_ids[0] == "hopsharbor:hw.hw.project:0:41"


async def test_one_reconcile_per_key_many_keys_bounded() -> None:
    desired = {f"project/p{i}": project(f"p{i}") for i in range(6)}
    reconciler = FakeReconciler(delay=0.01)
    runner, _, _ = make(desired, reconciler, parallelism=3)
    keys = [f"project/p{i % 6}" for i in range(24)]
    outcomes = await asyncio.gather(*(runner.run(k, EVENT) for k in keys))
    assert reconciler.overlap == []
    assert reconciler.max_running == 3
    # a burst for one key coalesces: at most one running and one waiting per key
    assert outcomes.count("coalesced") >= 12
    assert len(reconciler.calls) == 24 - outcomes.count("coalesced")


async def test_retriable_backs_off_then_succeeds() -> None:
    reconciler = FakeReconciler()
    reconciler.script["user/ada"] = [Retriable(), Retriable(), FakeResult()]
    runner, sinks, sleeps = make(
        {"user/ada": UserState(username="ada", email="a@x").model_dump_json()},
        reconciler,
        policy=RetryPolicy(initial=1.0, maximum=3.0, in_place=5),
    )
    before = sample("hopsharbor_reconciles_total", kind="user", result="retriable")
    assert await runner.run("user/ada", EVENT) == "done"
    assert sleeps.delays == [1.0, 2.0]  # exponential; rng 0.5 = no jitter
    assert sample("hopsharbor_reconciles_total", kind="user", result="retriable") - before == 2
    assert sinks.letters == []


async def test_retries_move_to_the_background_after_the_in_place_attempts() -> None:
    reconciler = FakeReconciler()
    reconciler.script["project/demo"] = [Retriable()] * 4 + [FakeResult()]
    runner, _, sleeps = make(
        {"project/demo": project("demo")},
        reconciler,
        policy=RetryPolicy(initial=1.0, maximum=2.5, in_place=2),
    )
    assert await runner.run("project/demo", EVENT) == "retriable"
    assert runner.scheduled == {"project/demo"}
    await runner.drain()
    assert len(reconciler.calls) == 5
    assert sleeps.delays == [1.0, 2.0, 2.5, 2.5]  # capped at maximum; the count is per key
    assert runner.scheduled == frozenset()


async def test_terminal_goes_to_the_dlq_and_is_not_retried_until_the_state_changes() -> None:
    desired = {"project/demo": project("demo")}
    reconciler = FakeReconciler()
    reconciler.script["project/demo"] = [Terminal("a project named demo exists and is not ours")]
    runner, sinks, _ = make(desired, reconciler)
    before = sample("hopsharbor_dlq_records_total", reason="foreign_project")
    assert await runner.run("project/demo", EVENT) == "terminal"
    [letter] = sinks.letters
    assert (letter.stage, letter.reason, letter.key, letter.origin) == (
        "reconcile",
        "foreign_project",
        "project/demo",
        EVENT,
    )
    assert letter.desired == json.loads(desired["project/demo"])
    assert "not ours" in letter.error
    assert sample("hopsharbor_dlq_records_total", reason="foreign_project") - before == 1
    assert await runner.run("project/demo", Origin(cause="resync")) == "skipped"
    assert len(reconciler.calls) == 1
    desired["project/demo"] = project("demo", {"ada": 1, "bob": 2})
    assert await runner.run("project/demo", EVENT) == "done"


async def test_a_bug_in_the_reconciler_is_terminal_not_a_crash() -> None:
    reconciler = FakeReconciler()
    reconciler.script["project/demo"] = [KeyError("boom")]
    runner, sinks, _ = make({"project/demo": project("demo")}, reconciler)
    assert await runner.run("project/demo", EVENT) == "terminal"
    assert sinks.letters[0].reason == "internal"


async def test_requeue_runs_again_later() -> None:
    reconciler = FakeReconciler()
    reconciler.script["project/demo"] = [FakeResult("requeue", 7.0)]
    runner, _, sleeps = make({"project/demo": project("demo")}, reconciler)
    assert await runner.run("project/demo", EVENT) == "requeue"
    await runner.drain()
    assert sleeps.delays == [7.0] and len(reconciler.calls) == 2


async def test_latency_and_drift_metrics_count_only_real_changes() -> None:
    reconciler = FakeReconciler()
    reconciler.script["project/demo"] = [changed("member"), FakeResult(), changed("member", "robot")]
    runner, _, _ = make({"project/demo": project("demo")}, reconciler)
    latency = sample("hopsharbor_end_to_end_latency_seconds_count")
    latency_sum = sample("hopsharbor_end_to_end_latency_seconds_sum")
    drift = sample("hopsharbor_drift_corrections_total", resource="member")
    await runner.run("project/demo", EVENT)  # the event changed Harbor: latency 1000.25 - 1000.0
    await runner.run("project/demo", Origin(cause="resync"))  # nothing to do
    await runner.run("project/demo", Origin(cause="resync"))  # someone changed Harbor by hand
    assert sample("hopsharbor_end_to_end_latency_seconds_count") - latency == 1
    assert sample("hopsharbor_end_to_end_latency_seconds_sum") - latency_sum == pytest.approx(0.25)
    assert sample("hopsharbor_drift_corrections_total", resource="member") - drift == 1
    assert reconciler.fresh == [False, True, True]  # a resync bypasses the reconciler's cache


async def test_resync_runs_users_before_projects() -> None:
    desired = {
        "project/a": project("a"),
        "user/ada": UserState(username="ada", email="a@x").model_dump_json(),
        "project/b": project("b"),
        "user/bob": UserState(username="bob", email="b@x").model_dump_json(),
    }
    reconciler = FakeReconciler(delay=0.001)
    runner, _, _ = make(desired, reconciler, parallelism=4)
    seen: list[str] = []
    counts = await runner.resync(desired, Origin(cause="resync"), progress=lambda k, o: seen.append(k))
    assert counts == {"done": 4}
    assert {k for k, _ in reconciler.calls[:2]} == {"user/ada", "user/bob"}
    assert sorted(seen) == sorted(desired)


def test_harbor_verdict_follows_the_harbor_error_tree() -> None:
    from streams.app.verdict import harbor_verdict
    from streams.harbor.errors import ConflictError, RetriableError, TerminalError

    assert harbor_verdict(RetriableError("server", "500")) == ("retriable", "server")
    assert harbor_verdict(TerminalError("bad_name", "x")) == ("terminal", "bad_name")
    assert harbor_verdict(ConflictError("conflict", "409")) == ("terminal", "conflict")
    assert harbor_verdict(ValueError("bug")) == ("terminal", "internal")
