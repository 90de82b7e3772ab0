"""`hopsharbor simulate`: run a Hopsworks-like workload against the Hopsworks database.

Called by the README's run command (deploy/local/run) and by tests. Each step of
`streams.tools.workload.plan` is one transaction, committed before the next starts, so the
connector sees the same sequence of binlog transactions that Hopsworks would produce.
A failing statement stops the run with the step that failed; nothing is retried (the database is
the source of truth, and a half-run workload is still a valid Hopsworks history).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.tools.workload import Step, WorkloadConfig, plan

__all__ = ["DatabaseSettings", "run_workload", "register"]


class DatabaseSettings(BaseSettings):
    """Where `simulate` and `verify` read and write Hopsworks' tables (the application's account)."""

    model_config = SettingsConfigDict(env_prefix="HOPSHARBOR_HOPSWORKS_DB_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 13306
    user: str = "hopsworks_app"
    password: SecretStr | None = None
    password_file: Path | None = None
    database: str = "hopsworks"

    def secret(self) -> str:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        raise SystemExit("set HOPSHARBOR_HOPSWORKS_DB_PASSWORD or HOPSHARBOR_HOPSWORKS_DB_PASSWORD_FILE")

    def connect(self) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.secret(),
            database=self.database,
            charset="utf8mb4",
            autocommit=False,
        )


def run_workload(
    conn: Any, steps: list[Step], progress: Callable[[int, int, Step], None] | None = None
) -> None:
    """Execute each step as one transaction on `conn` (a DB-API connection, autocommit off)."""
    for i, step in enumerate(steps, 1):
        try:
            with conn.cursor() as cur:
                for sql, params in step.statements:
                    cur.execute(sql, params)
            conn.commit()
        except Exception as exc:
            conn.rollback()
            raise RuntimeError(f"step {i}/{len(steps)} '{step.action} {step.subject}' failed: {exc}") from exc
        if progress:
            progress(i, len(steps), step)


def _print_progress(i: int, total: int, step: Step) -> None:
    """A bar redrawn in place on a terminal; a line per quarter of the work in a log."""
    if sys.stderr.isatty():
        width = 30
        done = width * i // total
        sys.stderr.write(
            f"\r[{'#' * done}{'.' * (width - done)}] {i}/{total} {step.action:<18} {step.subject[:40]:<40}"
        )
        if i == total:
            sys.stderr.write("\n")
    elif i == total or (i * 4 // total) != ((i - 1) * 4 // total):
        sys.stderr.write(
            f"simulate: {i}/{total} steps ({100 * i // total}%), last: {step.action} {step.subject}\n"
        )
    sys.stderr.flush()


def _cmd_simulate(args: argparse.Namespace) -> int:
    cfg = WorkloadConfig(
        users=args.users,
        projects=args.projects,
        members_per_project=args.members,
        libraries_per_project=args.libraries,
        failed_installs_per_project=args.failed_installs,
        delete_projects=args.delete,
        name_prefix=args.prefix,
        seed=args.seed,
        libraries=tuple(tuple(lib.split("==", 1)) for lib in args.library) or WorkloadConfig.libraries,  # type: ignore[misc]
    )
    steps = plan(cfg)
    settings = DatabaseSettings()
    conn = settings.connect()
    started = time.monotonic()
    try:
        run_workload(conn, steps, None if args.quiet else _print_progress)
    finally:
        conn.close()
    print(
        f"simulated {len(steps)} Hopsworks actions on {settings.database}"
        f" in {time.monotonic() - started:.1f}s"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="drive a Hopsworks-like workload into the Hopsworks database")
    p.add_argument("--users", type=int, default=6)
    p.add_argument("--projects", type=int, default=3)
    p.add_argument("--members", type=int, default=3, help="members added per project besides the owner")
    p.add_argument("--libraries", type=int, default=1, help="successful library installs per project")
    p.add_argument("--failed-installs", type=int, default=0, help="failing installs per project")
    p.add_argument("--delete", type=int, default=1, help="projects deleted at the end")
    p.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="NAME==VERSION",
        help="library to install (repeatable; default hopsharbor-demo==1.0)",
    )
    p.add_argument("--prefix", default="demo", help="prefix of user e-mails and project names")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_simulate)
