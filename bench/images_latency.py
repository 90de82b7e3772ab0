"""End to end: from a library change's success in the database to its image in the registry.

Starts, as subprocesses, the binlog connector (`hopsharbor connector run`) and the worker
(`hopsharbor worker`, images on, Harbor reconcile off) on a fresh database and topic prefix,
then plays Hopsworks: per library change INSERT(NEW) -> UPDATE(ONGOING) -> DELETE, and polls the
registry (plain registry 127.0.0.1:15000, no auth) for the command's tag. The latency is from
the DELETE's commit to the tag answering. Wheels (incompressible payload) are served over HTTP
from 127.0.0.1, builds use network "host".

    .venv/bin/python bench/images_latency.py [--changes 4] [--payload-mb 1]

Prints each change's latency, then median and p90, beside the worker's own build+push time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import pymysql  # noqa: E402
from images_push import pct, serve  # noqa: E402

from schemas import hopsworks_ddl  # noqa: E402
from streams.images.config import ImageConfig  # noqa: E402
from streams.images.registry import RegistryClient  # noqa: E402
from tests.conftest import STACK_ENV, Stack, _read_env_file  # noqa: E402
from tests.streams.images.wheels import make_wheel  # noqa: E402

PROJECT_ID = 7


def setup_database(stack: Stack, name: str, project: str) -> pymysql.Connection:
    conn = pymysql.connect(
        host="127.0.0.1",
        port=stack.port("mariadb"),
        user=stack.env["MARIADB_APP_USER"],
        password=stack.secret("mariadb-app"),
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
        for statement in hopsworks_ddl():
            cur.execute(statement)
        cur.execute(
            "INSERT INTO users (uid, username, password, email, fname, lname, status, max_num_projects)"
            " VALUES (1, 'ada', 'x', 'ada@ex.org', 'Ada', 'L', 2, 10)"
        )
        cur.execute(
            "INSERT INTO project (id, projectname, username, creation_status)"
            " VALUES (%s, %s, 'ada@ex.org', 0)",
            (PROJECT_ID, project),
        )
    return conn


def play(conn: pymysql.Connection, command_id: int, lib: str) -> tuple[int, float]:
    """One successful INSTALL as Hopsworks writes it; returns (created millis, wall time of the DELETE)."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO conda_commands (id, project_id, user_id, op, lib, version, status, install_type)"
            " VALUES (%s, %s, 1, 'INSTALL', %s, '1.0', 'NEW', 'PIP')",
            (command_id, PROJECT_ID, lib),
        )
        cur.execute("UPDATE conda_commands SET status='ONGOING' WHERE id=%s", (command_id,))
        cur.execute("SELECT created FROM conda_commands WHERE id=%s", (command_id,))
        created: dt.datetime = cur.fetchone()[0]
        cur.execute("DELETE FROM conda_commands WHERE id=%s", (command_id,))
        done = time.time()
    # MariaDB returns the TIMESTAMP in the session time zone (the server's: UTC here).
    return int(round(created.replace(tzinfo=dt.UTC).timestamp() * 1000)), done


def wait_ready(worker_log: Path, procs: list[subprocess.Popen[bytes]], timeout: float = 180.0) -> None:
    """Wait until the worker consumes (a change made before the connector's snapshot would be lost:
    the snapshot sees no row of a command that already succeeded) and the connector streams."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a process exited; see {worker_log.parent}")
        text = worker_log.read_text(errors="replace") if worker_log.exists() else ""
        if "Worker ready" in text and (worker_log.parent / "connector.log").read_text(errors="replace").count(
            "connectors.streaming: streaming from"
        ):
            time.sleep(2.0)
            return
        time.sleep(0.5)
    raise SystemExit(f"worker or connector not ready after {timeout} s; see {worker_log.parent}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=4)
    parser.add_argument("--payload-mb", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one image")
    args = parser.parse_args()
    stack = Stack(env=_read_env_file(STACK_ENV))
    run_id = uuid.uuid4().hex[:8]
    database, project, prefix = f"hopsharbor_lat{run_id}", f"lat{run_id}", f"lat{run_id}"
    conn = setup_database(stack, database, project)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        for n in range(args.changes):
            make_wheel(wheels, f"hhlat{n}", "1.0", payload_bytes=int(args.payload_mb * 1_000_000))
        server, url = serve(wheels)
        registry = f"127.0.0.1:{stack.port('registry')}"
        env = {
            **os.environ,
            "HOPSHARBOR_DATABASE": database,
            "HOPSHARBOR_TOPIC_PREFIX": prefix,
            "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            # connector
            "HOPSHARBOR_MYSQL_PORT": str(stack.port("mariadb")),
            "HOPSHARBOR_MYSQL_PASSWORD_FILE": str(stack.dir / "secrets" / "mariadb-capture"),
            "HOPSHARBOR_CONNECTOR_NAME": prefix,
            "HOPSHARBOR_SERVER_ID": str(6000 + int(run_id[:4], 16) % 1000),
            # worker: images on, Harbor untouched
            "HOPSHARBOR_APP_ID": f"hopsharbor-lat-{run_id}",
            "HOPSHARBOR_DATA_DIR": str(Path(tmp) / "worker"),
            "HOPSHARBOR_RECONCILE_ENABLED": "false",
            "HOPSHARBOR_HARBOR_PASSWORD": "unused-reconcile-is-off",
            "HOPSHARBOR_STATE_TOPIC": f"{prefix}.state",
            "HOPSHARBOR_DLQ_TOPIC": f"{prefix}.dlq",
            "HOPSHARBOR_IMAGE_ENABLED": "true",
            "HOPSHARBOR_IMAGE_DOCKER_HOST": stack.docker_host,
            "HOPSHARBOR_IMAGE_REGISTRY": registry,
            "HOPSHARBOR_IMAGE_ANONYMOUS_PUSH": "true",
            "HOPSHARBOR_IMAGE_BASE_IMAGE": stack.env["BASE_IMAGE"],
            "HOPSHARBOR_IMAGE_PIP_ARGS": f"--no-index --find-links {url}",
            "HOPSHARBOR_IMAGE_RECORDS_TOPIC": f"{prefix}.images",
        }
        hopsharbor = str(REPO / ".venv" / "bin" / "hopsharbor")
        logs = Path(tmp)
        latencies: list[float] = []
        try:
            for name, argv, extra in (
                ("connector", [hopsharbor, "connector", "run", "--metrics-port", "0"], {}),
                (
                    "worker",
                    [hopsharbor, "worker"],
                    {"HOPSHARBOR_METRICS_PORT": str(19500 + int(run_id[:3], 16) % 400)},
                ),
            ):
                log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
                procs.append(
                    subprocess.Popen(argv, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT)
                )
            wait_ready(logs / "worker.log", procs)
            config = ImageConfig(registry=registry)
            with RegistryClient(f"http://{registry}") as client:
                print(f"{'change':>6} {'latency s':>10}")
                for n in range(args.changes):
                    command_id = n + 1
                    created, done = play(conn, command_id, f"hhlat{n}")
                    tag = config.tag_template.format(
                        created_ms=created, hopsworks_version=config.hopsworks_version, command_id=command_id
                    )
                    while client.manifest(f"{project}/{project}", tag) is None:
                        if time.time() - done > args.timeout:
                            raise SystemExit(
                                f"no image {project}:{tag} after {args.timeout} s; logs in {logs}"
                            )
                        if any(p.poll() is not None for p in procs):
                            raise SystemExit(
                                f"a process exited; logs: {(logs / 'worker.log').read_text()[-3000:]}"
                            )
                        time.sleep(0.2)
                    latencies.append(time.time() - done)
                    print(f"{command_id:>6} {latencies[-1]:>10.1f}")
            print(
                f"latency DELETE commit -> tag in registry: median {statistics.median(latencies):.1f} s, "
                f"p90 {pct(latencies, 0.9):.1f} s (n={len(latencies)}; first includes worker start-up)"
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            server.shutdown()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
