"""End to end with the real servers: MariaDB (Hopsworks tables) -> connector -> Kafka -> worker -> Harbor.

The thesis scenarios (user creation, project creation, member addition, member deletion, project
deletion), drift undone by the resync, a foreign project left alone and reported, Harbor
unreachable for a while, and a worker killed mid-reconcile. Image pushes belong to the image
builder's tests. `hopsharbor connector run` and `hopsharbor worker` run as subprocesses on a fresh
database and topic prefix; Harbor is checked with the Harbor client.

Skips, with the reason, while Harbor core does not answer /api/v2.0/ping: Harbor is never imitated.
"Harbor down" is a TCP relay in front of the real Harbor that the test closes and reopens.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

HOPSHARBOR = [sys.executable, "-m", "streams.cli"]
REPO = Path(__file__).resolve().parents[2]
CONVERGE = 90.0  # seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """A TCP relay 127.0.0.1:<port> -> Harbor that can be closed (connections refused) and reopened."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.AbstractServer | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            HOPSHARBOR + self.args,
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class Pipeline:
    """The Hopsworks database, the connector, the worker and a Harbor client, for one test."""

    def __init__(self, db: Any, stack: Any, prefix: str, harbor_url: str, tmp: Path) -> None:
        from tests.connectors.support import env_for, settings_for

        self.db, self.stack, self.prefix, self.tmp = db, stack, prefix, tmp
        self.conn = db.connect()
        self.harbor_url = harbor_url
        self.password = stack.secret("harbor-admin")
        self.relay = Relay(int(harbor_url.rsplit(":", 1)[1]))
        connector_env = env_for(settings_for(db, stack, prefix, metrics_port=free_port()))
        self.connector = Process(["connector", "run"], connector_env, tmp / "connector.log")
        worker_env = {
            **os.environ,
            "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "HOPSHARBOR_TOPIC_PREFIX": prefix,
            "HOPSHARBOR_DATABASE": db.name,
            "HOPSHARBOR_STATE_TOPIC": f"{prefix}.state",
            "HOPSHARBOR_DLQ_TOPIC": f"{prefix}.dlq",
            "HOPSHARBOR_APP_ID": f"{prefix}-worker",
            "HOPSHARBOR_DATA_DIR": str(tmp / "worker"),
            "HOPSHARBOR_METRICS_PORT": str(free_port()),
            "HOPSHARBOR_HARBOR_URL": f"http://127.0.0.1:{self.relay.port}",
            "HOPSHARBOR_HARBOR_USER": "admin",
            "HOPSHARBOR_HARBOR_PASSWORD_FILE": str(Path(stack.dir) / "secrets" / "harbor-admin"),
            "HOPSHARBOR_ROBOT_SECRETS_DIR": str(tmp / "robot-secrets"),
            "HOPSHARBOR_RESYNC_INTERVAL": "5",
            "HOPSHARBOR_RETRY_MAX": "2",
        }
        self.worker = Process(["worker"], worker_env, tmp / "worker.log")
        self.harbor: Any = None
        self.uid = uuid.uuid4().hex[:6]

    # -- Hopsworks, as its application writes the tables -----------------------------------------
    def sql(self, statement: str, *params: Any) -> int:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.lastrowid

    def add_user(self, name: str, status: int = 2) -> str:
        email = f"{name}@e2e.org"
        self.sql(
            "INSERT INTO users (username, password, email, fname, lname, status, mode, max_num_projects)"
            " VALUES (%s, 'x', %s, 'E', 'Two', %s, 0, 10)",
            name,
            email,
            status,
        )
        return email

    def add_project(self, name: str, owner: str) -> int:
        pid = self.sql(
            "INSERT INTO project (projectname, username, creation_status) VALUES (%s, %s, 1)", name, owner
        )
        self.sql(
            "INSERT INTO project_team (project_id, team_member, team_role) VALUES (%s, %s, 'Data owner')",
            pid,
            owner,
        )
        self.sql("UPDATE project SET creation_status = 0 WHERE id = %s", pid)
        return pid

    def add_member(self, pid: int, email: str, role: str = "Data scientist") -> None:
        self.sql(
            "INSERT INTO project_team (project_id, team_member, team_role) VALUES (%s, %s, %s)",
            pid,
            email,
            role,
        )

    def remove_member(self, pid: int, email: str) -> None:
        self.sql(
            "UPDATE project_team SET team_role = 'Under removal' WHERE project_id = %s AND team_member = %s",
            pid,
            email,
        )
        self.sql("DELETE FROM project_team WHERE project_id = %s AND team_member = %s", pid, email)

    def delete_project(self, pid: int) -> None:
        self.sql("UPDATE project_team SET team_role = 'Under removal' WHERE project_id = %s", pid)
        self.sql("DELETE FROM project WHERE id = %s", pid)

    # -- Harbor ----------------------------------------------------------------------------------
    async def members(self, project: str) -> dict[str, int] | None:
        if await self.harbor.get_project(project) is None:
            return None
        return {m.entity_name: m.role_id for m in await self.harbor.list_members(project)}

    async def robots(self, project: str) -> list[str]:
        found = await self.harbor.get_project(project)
        return (
            sorted(r.name for r in await self.harbor.list_project_robots(found.project_id)) if found else []
        )

    async def until(self, what: str, check: Callable[[], Awaitable[bool]], timeout: float = CONVERGE) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await check():
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"not converged within {timeout}s: {what} (logs in {self.tmp})")


@pytest.fixture
async def pipeline(mysql_db, stack, topic_prefix, harbor_url, tmp_path) -> AsyncIterator[Pipeline]:
    from streams.harbor import HarborClient

    stack.require("kafka")
    p = Pipeline(mysql_db, stack, topic_prefix, harbor_url, tmp_path)
    await p.relay.open()
    p.connector.start()
    p.worker.start()
    async with HarborClient(harbor_url, "admin", p.password) as client:
        p.harbor = client
        try:
            yield p
        finally:
            p.worker.stop()
            p.connector.stop()
            await p.relay.close()
            for name in [n for n in await _our_projects(client, p.uid)]:
                await client.ensure_project_absent(name)


async def _our_projects(client: Any, uid: str) -> list[str]:
    return [pr.name for pr in await client.list_projects(f"e2e{uid}")]


async def test_thesis_scenarios(pipeline: Pipeline) -> None:
    p, uid = pipeline, pipeline.uid
    ada, bob = p.add_user(f"a{uid}"), p.add_user(f"b{uid}")
    await p.until("user creation", lambda: _user_exists(p, f"a{uid}"))
    pid = p.add_project(f"E2e{uid}", ada)
    name = f"e2e{uid}"
    await p.until("project creation", lambda: _eq(p.members(name), {f"a{uid}": 1}))
    assert await p.robots(name) == [f"robot${name}+pull", f"robot${name}+push"]
    p.add_member(pid, bob)
    await p.until("member addition", lambda: _eq(p.members(name), {f"a{uid}": 1, f"b{uid}": 2}))
    p.remove_member(pid, bob)
    await p.until("member deletion", lambda: _eq(p.members(name), {f"a{uid}": 1}))
    p.delete_project(pid)
    await p.until("project deletion", lambda: _eq(p.members(name), None))


async def test_resync_undoes_changes_made_by_hand(pipeline: Pipeline) -> None:
    p, uid = pipeline, pipeline.uid
    ada, bob = p.add_user(f"a{uid}"), p.add_user(f"b{uid}")
    pid = p.add_project(f"E2e{uid}", ada)
    p.add_member(pid, bob, "Data owner")
    name = f"e2e{uid}"
    await p.until("project", lambda: _eq(p.members(name), {f"a{uid}": 1, f"b{uid}": 4}))
    bob_member = next(m for m in await p.harbor.list_members(name) if m.entity_name == f"b{uid}")
    await p.harbor.delete_member(name, bob_member.id)  # by hand, behind hopsharbor's back
    await p.until("resync restores the member", lambda: _eq(p.members(name), {f"a{uid}": 1, f"b{uid}": 4}))


async def test_foreign_project_is_left_alone_and_reported(pipeline: Pipeline) -> None:
    from streams.harbor import HarborClient

    p, uid = pipeline, pipeline.uid
    other, secret = f"o{uid}", f"Other{uid}Pw1"
    await p.harbor.create_user(other, f"{other}@e2e.org", "Other", secret)
    async with HarborClient(p.harbor_url, other, secret) as foreign:
        await foreign.create_project(f"e2e{uid}")
    ada = p.add_user(f"a{uid}")
    p.add_project(f"E2e{uid}", ada)
    await p.until("the conflict is reported", lambda: _log_has(p.tmp / "worker.log", "foreign_project"))
    assert await p.members(f"e2e{uid}") == {other: 1}  # untouched


async def test_harbor_down_for_a_while_loses_nothing(pipeline: Pipeline) -> None:
    p, uid = pipeline, pipeline.uid
    ada = p.add_user(f"a{uid}")
    await p.until("user", lambda: _user_exists(p, f"a{uid}"))
    await p.relay.close()  # Harbor unreachable for the worker
    users = [p.add_user(f"m{i}{uid}") for i in range(3)]
    pid = p.add_project(f"E2e{uid}", ada)
    for email in users:
        p.add_member(pid, email)
    await asyncio.sleep(8)  # the worker retries meanwhile
    await p.relay.open()
    want = {f"a{uid}": 1, **{f"m{i}{uid}": 2 for i in range(3)}}
    await p.until("everything applied after Harbor returns", lambda: _eq(p.members(f"e2e{uid}"), want))


async def test_worker_killed_mid_reconcile_converges_without_duplicates(pipeline: Pipeline) -> None:
    p, uid = pipeline, pipeline.uid
    ada = p.add_user(f"a{uid}")
    members = [p.add_user(f"k{i}{uid}") for i in range(5)]
    pid = p.add_project(f"E2e{uid}", ada)
    for email in members:
        p.add_member(pid, email, random.choice(["Data owner", "Data scientist"]))
    await p.until("the project appears", lambda: _project_exists(p, f"e2e{uid}"), timeout=CONVERGE)
    p.worker.stop(signal.SIGKILL)  # mid-reconcile: members and robots half done
    p.worker.start()
    name = f"e2e{uid}"
    await p.until("all members", lambda: _len(p.members(name), 6))
    harbor_members = await p.harbor.list_members(name)
    assert len({m.entity_name for m in harbor_members}) == len(harbor_members) == 6
    assert await p.robots(name) == [f"robot${name}+pull", f"robot${name}+push"]


async def _eq(value: Awaitable[Any], want: Any) -> bool:
    return (await value) == want


async def _len(value: Awaitable[Any], n: int) -> bool:
    got = await value
    return got is not None and len(got) == n


async def _user_exists(p: Pipeline, name: str) -> bool:
    return await p.harbor.find_user(name) is not None


async def _project_exists(p: Pipeline, name: str) -> bool:
    return await p.harbor.get_project(name) is not None


async def _log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")
