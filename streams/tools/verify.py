"""`hopsharbor verify`: compare what Hopsworks' tables say with the pipeline and with Harbor.

Two checks, each printed as a difference (nothing printed = converged):

1. database vs state topic: the desired state computed afresh from the current tables
   (`streams.mapping.derive_all`, the same semantics the worker applies event by event) against
   the compacted state topic the worker wrote. A difference means the connector or the worker
   has not caught up (or lost something).
2. state vs Harbor: for every key, the reconciler's plan (`Reconciler.plan`, no writes) against
   Harbor's actual state. A non-empty plan means Harbor has not converged (or drifted).

Exit codes: 0 converged; 1 differences remain; 3 the database side converged but Harbor could not
be checked (unreachable); 2 configuration or Kafka/database errors. `--wait N` re-checks until
converged or N seconds have passed, for use right after a workload.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from streams.desired.model import ProjectState, StateKey, UserState
from streams.tools.simulate import DatabaseSettings

__all__ = ["Report", "compare_state", "register", "verify_once"]

Desired = UserState | ProjectState


@dataclass
class Report:
    state_diff: list[str] = field(default_factory=list)
    harbor_diff: list[str] = field(default_factory=list)
    harbor_error: str | None = None
    keys: int = 0

    @property
    def exit_code(self) -> int:
        if self.state_diff or self.harbor_diff:
            return 1
        return 3 if self.harbor_error else 0


def compare_state(expected: dict[StateKey, Desired], state: dict[StateKey, Desired | None]) -> list[str]:
    """Differences between the desired state derived from the tables and the state topic (pure)."""
    lines: list[str] = []
    for key in sorted(set(expected) | set(state), key=lambda k: k.encode()):
        want, have = expected.get(key), state.get(key)
        if want == have:
            continue
        if want is None:
            lines.append(f"- {key.encode()}: on the state topic but absent from the database")
        elif have is None:
            lines.append(f"+ {key.encode()}: in the database but not (or deleted) on the state topic")
        else:
            changed = [f for f in type(want).model_fields if getattr(want, f) != getattr(have, f)]
            for name in changed:
                lines.append(
                    f"~ {key.encode()}: {name} is {getattr(have, name)!r},"
                    f" database says {getattr(want, name)!r}"
                )
    return lines


def _read_tables(db: DatabaseSettings) -> tuple[list[Any], list[Any], list[Any]]:
    from streams.mapping.rows import ProjectRow, TeamRow, UserRow

    conn = db.connect()
    try:
        with conn.cursor() as cur:

            def rows(sql: str) -> list[dict[str, Any]]:
                cur.execute(sql)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

            users = [
                UserRow.from_row(r)
                for r in rows("SELECT uid, username, email, fname, lname, status, mode FROM users")
            ]
            projects = [
                ProjectRow.from_row(r)
                for r in rows("SELECT id, projectname, username, creation_status, docker_image FROM project")
            ]
            team = [
                TeamRow.from_row(r)
                for r in rows("SELECT project_id, team_member, team_role FROM project_team")
            ]
    finally:
        conn.close()
    return users, projects, team


async def _harbor_diff(settings: Any, targets: dict[StateKey, Desired | None], report: Report) -> None:
    from streams.app.wiring import build_reconciler
    from streams.harbor.errors import HarborError

    try:
        async with httpx.AsyncClient(timeout=3.0) as probe:
            (await probe.get(f"{settings.harbor_url.rstrip('/')}/api/v2.0/ping")).raise_for_status()
    except httpx.HTTPError as exc:
        report.harbor_error = (
            f"Harbor at {settings.harbor_url} did not answer /api/v2.0/ping ({exc.__class__.__name__}: {exc})"
        )
        return
    reconciler, client = build_reconciler(settings)
    try:
        for key in sorted(targets, key=lambda k: (k.kind.value != "user", k.encode())):
            try:
                actions = await reconciler.plan(key, targets[key])
            except HarborError as exc:
                report.harbor_diff.append(f"! {key.encode()}: cannot read Harbor: {exc}")
                continue
            report.harbor_diff.extend(f"{key.encode()}: {a}" for a in actions)
    finally:
        await client.aclose()


async def verify_once(settings: Any, db: DatabaseSettings, *, check_harbor: bool = True) -> Report:
    """One comparison of database, state topic and (optionally) Harbor."""
    from streams.app.runner import decode_state
    from streams.app.state_reader import read_state
    from streams.mapping.derive import derive_all

    users, projects, team = _read_tables(db)
    expected = derive_all(users, projects, team, settings.mapping_config())
    raw = await read_state(settings.kafka_bootstrap, settings.state_topic)
    state: dict[StateKey, Desired | None] = {}
    for k, v in raw.items():
        key = StateKey.decode(k)
        state[key] = decode_state(key, v)
    report = Report(state_diff=compare_state(expected, state), keys=len(expected))
    if check_harbor:
        # every desired resource must exist as desired; every tombstoned one must be absent
        targets: dict[StateKey, Desired | None] = {k: None for k, v in state.items() if v is None}
        targets.update(expected)
        await _harbor_diff(settings, targets, report)
    return report


def _print(report: Report) -> None:
    print(
        f"database vs state topic ({report.keys} resources): "
        + ("converged" if not report.state_diff else f"{len(report.state_diff)} differences")
    )
    for line in report.state_diff:
        print("  " + line)
    if report.harbor_error:
        print(f"state vs Harbor: not checked: {report.harbor_error}")
    else:
        print(
            "state vs Harbor: "
            + ("converged" if not report.harbor_diff else f"{len(report.harbor_diff)} differences")
        )
        for line in report.harbor_diff:
            print("  " + line)


def _cmd_verify(args: argparse.Namespace) -> int:
    from streams.app.state_reader import StateTopicError
    from streams.settings import Settings

    settings, db = Settings(), DatabaseSettings()
    deadline = time.monotonic() + args.wait
    while True:
        try:
            report = asyncio.run(verify_once(settings, db, check_harbor=not args.skip_harbor))
        except (StateTopicError, ValueError) as exc:
            # the worker creates the state topic when it first writes: wait for it with --wait
            if isinstance(exc, StateTopicError) and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            print(f"hopsharbor verify: {exc}", file=sys.stderr)
            return 2
        if report.exit_code != 1 or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    _print(report)
    return report.exit_code


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="compare Harbor (and the state topic) with the Hopsworks database")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="re-check until converged or this many seconds passed (default: check once)",
    )
    p.add_argument(
        "--skip-harbor", action="store_true", help="compare the database with the state topic only"
    )
    p.set_defaults(func=_cmd_verify)
