from __future__ import annotations

import argparse
import io

import pytest

from streams.commands import reconcile_keys, register, replay_state
from streams.desired.model import ProjectState, UserState
from streams.harbor.errors import TerminalError
from tests.streams.app.fakes import FakeReconciler, FakeResult

pytestmark = pytest.mark.unit

STATE = {
    "user/ada": UserState(username="ada", email="ada@ex.org").model_dump_json(),
    "project/demo": ProjectState(
        name="demo", hopsworks_id=1, owner="ada", members={"ada": 1}
    ).model_dump_json(),
    "project/old": None,  # tombstone
}


def test_register_adds_the_three_commands() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reconcile", "--dry-run", "project/demo", "user/ada"])
    assert (args.dry_run, args.keys, callable(args.func)) == (True, ["project/demo", "user/ada"], True)
    assert parser.parse_args(["replay", "--parallelism", "4"]).parallelism == 4
    assert callable(parser.parse_args(["worker"]).func)


async def test_dry_run_prints_the_plan_users_first_and_writes_nothing() -> None:
    reconciler, out, err = FakeReconciler(), io.StringIO(), io.StringIO()
    code = await reconcile_keys(STATE, reconciler, [], dry_run=True, out=out, err=err)
    assert code == 0
    assert out.getvalue().splitlines() == ["user/ada: create user ada", "project/demo: create project demo"]
    assert "plan for 2 keys: 2 create, 0 update, 0 delete" in err.getvalue()
    assert [k for k, _ in reconciler.calls] == ["user/ada", "project/demo"]  # plan(), never reconcile()
    assert reconciler.request_ids == []


async def test_named_keys_tombstones_and_unknown_keys() -> None:
    reconciler, out, err = FakeReconciler(), io.StringIO(), io.StringIO()
    code = await reconcile_keys(
        STATE, reconciler, ["project/old", "project/nope", "bad"], dry_run=True, out=out, err=err
    )
    assert code == 1
    assert out.getvalue() == "project/old: unchanged\n"  # absent in Harbor already: nothing planned
    assert "project/nope: unknown" in err.getvalue() and "bad: not a key" in err.getvalue()


async def test_reconcile_reports_terminal_failures_in_the_exit_code() -> None:
    reconciler, err = FakeReconciler(), io.StringIO()
    reconciler.script["project/demo"] = [TerminalError("foreign_project", "demo exists, not ours")]
    code = await reconcile_keys(STATE, reconciler, [], dry_run=False, out=io.StringIO(), err=err)
    assert code == 1
    assert "project/demo: failed (foreign_project)" in err.getvalue()
    assert "reconciled: done 1, terminal 1" in err.getvalue()


async def test_replay_reconciles_every_present_key_with_progress_and_waits_for_requeues() -> None:
    reconciler, err = FakeReconciler(), io.StringIO()
    reconciler.script["project/demo"] = [FakeResult("requeue", 0.01)]
    code, counts = await replay_state(STATE, reconciler, parallelism=2, err=err)
    assert code == 0 and counts == {"done": 1, "requeue": 1}
    assert [k for k, _ in reconciler.calls] == ["user/ada", "project/demo", "project/demo"]
    text = err.getvalue()
    assert "2/2 keys" in text and "waiting for 1 requeued keys" in text and "replayed 2 keys" in text
