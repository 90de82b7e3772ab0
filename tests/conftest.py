"""Shared fixtures: the running local stack (deploy/local/stack up) and per-test isolation.

Integration tests use the real servers of the local stack. Each test gets its own MariaDB
database (`mysql_db`) and its own Kafka topic prefix (`topic_prefix`), so tests never see each
other's data and may run in any order. Fixtures are factories where a test may want several.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STACK_ENV = REPO / "deploy" / "local" / "stack.env"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = os.environ.get(key, value)
    return values


@dataclass(frozen=True)
class Stack:
    """Where the local stack's servers listen and where its secrets are kept."""

    env: dict[str, str]
    dir: Path = field(default_factory=lambda: Path(os.environ.get("HOPSHARBOR_STACK_DIR", REPO / ".stack")))

    def port(self, name: str) -> int:
        return int(self.env[f"{name.upper()}_PORT"])

    def secret(self, name: str) -> str:
        path = self.dir / "secrets" / name
        if not path.exists():
            pytest.fail(f"stack secret {path} is missing: run `deploy/local/stack up`")
        return path.read_text().strip()

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.port('kafka')}"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.dir / 'run' / self.env['DOCKER_SOCKET_NAME']}"

    def is_up(self, name: str) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port(name)), timeout=1):
                return True
        except OSError:
            return False

    def require(self, name: str) -> None:
        """Fail (not skip) when a server of the stack is down: integration tests need it."""
        if not self.is_up(name):
            pytest.fail(
                f"{name} is not listening on 127.0.0.1:{self.port(name)}: run `deploy/local/stack up`"
            )


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack(env=_read_env_file(STACK_ENV))


@dataclass(frozen=True)
class MySQLDatabase:
    """A throw-away copy of the Hopsworks schema in its own database."""

    name: str
    host: str
    port: int
    user: str
    password: str
    capture_user: str
    capture_password: str

    def connect(self, **kwargs: object):  # -> pymysql.Connection
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.name,
            autocommit=True,
            charset="utf8mb4",
            **kwargs,
        )


@pytest.fixture
def mysql_db(stack: Stack) -> Iterator[MySQLDatabase]:
    """A new database named hopsharbor_<random> holding schemas/hopsworks.sql; dropped afterwards."""
    import pymysql

    from schemas import hopsworks_ddl

    stack.require("mariadb")
    db = MySQLDatabase(
        name=f"hopsharbor_{uuid.uuid4().hex[:10]}",
        host="127.0.0.1",
        port=stack.port("mariadb"),
        user=stack.env["MARIADB_APP_USER"],
        password=stack.secret("mariadb-app"),
        capture_user=stack.env["MARIADB_CAPTURE_USER"],
        capture_password=stack.secret("mariadb-capture"),
    )
    conn = pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{db.name}`")
        for statement in hopsworks_ddl():
            cur.execute(statement)
    try:
        yield db
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db.name}`")
        conn.close()


@pytest.fixture
def topic_prefix(stack: Stack) -> str:
    """A Kafka topic prefix unique to this test (topics are created by the code under test)."""
    stack.require("kafka")
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def harbor_url(stack: Stack) -> str:
    """Harbor core's URL; skips (with the reason the stack recorded) while core does not answer."""
    import httpx

    url = f"http://127.0.0.1:{stack.port('harbor')}"
    try:
        answer = httpx.get(f"{url}/api/v2.0/ping", timeout=3).text.strip().strip('"')
    except httpx.HTTPError as exc:
        answer = type(exc).__name__
    if answer != "Pong":
        blocked = stack.dir / "run" / "harbor.blocked"
        why = (
            blocked.read_text().strip().splitlines()[0]
            if blocked.exists()
            else "`deploy/local/stack up harbor`"
        )
        pytest.skip(f"Harbor does not answer {url}/api/v2.0/ping ({answer[:60]}): {why}")
    return url
