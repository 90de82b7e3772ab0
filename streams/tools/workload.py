"""A Hopsworks-like workload, as the SQL statements Hopsworks itself would run.

Pure: `plan(config)` returns the steps (each one transaction of Hopsworks) without touching a
database, so tests can check the sequence and `simulate` can show progress. The life cycles follow
Hopsworks 3.9/4.0 (see DESIGN.md):

- a user registers (status 0 NEW_MOBILE_ACCOUNT), then is activated (status 2);
- a project is inserted ONGOING (creation_status 1) with its owner as 'Data owner' and a
  python_environment row, then updated to DONE (0) with its base image;
- members are added as 'Data scientist' or 'Data owner', re-roled, and removed by first marking
  them 'Under removal' and then deleting the row;
- a library install is a conda_commands row NEW -> ONGOING -> project.docker_image updated -> row
  deleted (success); a failing one ends FAILED with an error message;
- a project is deleted by marking every member 'Under removal', inserting a REMOVE command that
  carries the image name, then deleting the project row (InnoDB cascades are not in the binlog).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WorkloadConfig", "Step", "plan"]

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class WorkloadConfig:
    users: int = 6
    projects: int = 3
    members_per_project: int = 3
    libraries_per_project: int = 1
    failed_installs_per_project: int = 0
    delete_projects: int = 1
    libraries: tuple[tuple[str, str], ...] = (("hopsharbor-demo", "1.0"),)
    base_image: str = "python310:4.0.0"
    hopsworks_version: str = "4.0.0"
    name_prefix: str = "demo"
    seed: int = 7
    start_millis: int = 1_790_000_000_000


@dataclass(frozen=True)
class Step:
    """One Hopsworks action: the statements of one transaction, and what it stands for."""

    action: str
    subject: str
    statements: tuple[Statement, ...] = field(default_factory=tuple)


def _user_email(cfg: WorkloadConfig, i: int) -> str:
    return f"{cfg.name_prefix}user{i}@hopsworks.test"


def plan(cfg: WorkloadConfig) -> list[Step]:
    """All steps of the workload, in the order Hopsworks would run them."""
    return list(_steps(cfg))


def _steps(cfg: WorkloadConfig) -> Iterator[Step]:
    rnd = random.Random(cfg.seed)
    emails = [_user_email(cfg, i) for i in range(cfg.users)]
    for i, email in enumerate(emails):
        uname = f"{cfg.name_prefix}u{i}"[:10]  # users.username is varchar(10)
        yield Step(
            "register user",
            email,
            (
                (
                    "INSERT INTO users"
                    " (username, password, email, fname, lname, status, mode, max_num_projects)"
                    " VALUES (%s, %s, %s, %s, %s, 0, 0, 10)",
                    (uname, "x" * 64, email, f"First{i}", f"Lást{i}"),
                ),
            ),
        )
        yield Step("activate user", email, (("UPDATE users SET status = 2 WHERE email = %s", (email,)),))

    build = 0
    projects: list[tuple[str, str]] = []
    for p in range(cfg.projects):
        name = f"{cfg.name_prefix}_proj{p}"
        owner = emails[p % len(emails)]
        projects.append((name, owner))
        yield Step(
            "create project",
            name,
            (
                (
                    "INSERT INTO project (projectname, username, creation_status, docker_image, description)"
                    " VALUES (%s, %s, 1, NULL, %s)",
                    (name, owner, "simulated"),
                ),
                (
                    "INSERT INTO project_team (project_id, team_member, team_role)"
                    " SELECT id, %s, 'Data owner' FROM project WHERE projectname = %s",
                    (owner, name),
                ),
                (
                    "INSERT INTO python_environment (project_id, python_version)"
                    " SELECT id, '3.10' FROM project WHERE projectname = %s",
                    (name,),
                ),
            ),
        )
        yield Step(
            "project ready",
            name,
            (
                (
                    "UPDATE project SET creation_status = 0, docker_image = %s WHERE projectname = %s",
                    (cfg.base_image, name),
                ),
            ),
        )
        others = [e for e in emails if e != owner]
        chosen = rnd.sample(others, min(cfg.members_per_project, len(others)))
        for j, member in enumerate(chosen):
            role = "Data scientist" if j % 2 == 0 else "Data owner"
            yield Step(
                "add member",
                f"{name}/{member}",
                (
                    (
                        "INSERT INTO project_team (project_id, team_member, team_role)"
                        " SELECT id, %s, %s FROM project WHERE projectname = %s",
                        (member, role, name),
                    ),
                ),
            )
        if chosen:
            yield Step(
                "change role",
                f"{name}/{chosen[0]}",
                (
                    (
                        "UPDATE project_team SET team_role = 'Data owner' WHERE team_member = %s"
                        " AND project_id = (SELECT id FROM project WHERE projectname = %s)",
                        (chosen[0], name),
                    ),
                ),
            )
        if len(chosen) > 1:
            gone = chosen[-1]
            where = " WHERE team_member = %s AND project_id = (SELECT id FROM project WHERE projectname = %s)"
            yield Step(
                "remove member",
                f"{name}/{gone}",
                (("UPDATE project_team SET team_role = 'Under removal'" + where, (gone, name)),),
            )
            yield Step(
                "member removed", f"{name}/{gone}", (("DELETE FROM project_team" + where, (gone, name)),)
            )
        libs = [cfg.libraries[k % len(cfg.libraries)] for k in range(cfg.libraries_per_project)]
        for lib, version in libs:
            build += 1
            yield from _install(cfg, name, owner, lib, version, build, ok=True)
        for _ in range(cfg.failed_installs_per_project):
            yield from _install(cfg, name, owner, "no-such-library", "0.0", build, ok=False)

    for name, owner in projects[: cfg.delete_projects]:
        yield Step(
            "delete project",
            name,
            (
                (
                    "UPDATE project_team SET team_role = 'Under removal'"
                    " WHERE project_id = (SELECT id FROM project WHERE projectname = %s)",
                    (name,),
                ),
                (
                    "INSERT INTO conda_commands (project_id, user_id, op, arg, status, install_type)"
                    " SELECT p.id, u.uid, 'REMOVE', p.docker_image, 'NEW', 'ENVIRONMENT'"
                    " FROM project p JOIN users u ON u.email = %s WHERE p.projectname = %s",
                    (owner, name),
                ),
                ("DELETE FROM project WHERE projectname = %s", (name,)),
            ),
        )


def _install(
    cfg: WorkloadConfig, project: str, owner: str, lib: str, version: str, build: int, *, ok: bool
) -> Iterator[Step]:
    """INSERT(NEW) -> UPDATE(ONGOING) -> image updated + row deleted, or UPDATE(FAILED).

    Hopsworks runs one command per library of a project at a time, so (project, lib, version,
    status) finds the row without carrying its id between steps.
    """
    subject = f"{project} {lib}=={version}"
    row = (
        " WHERE op = 'INSTALL' AND lib = %s AND version = %s AND status = %s"
        " AND project_id = (SELECT id FROM project WHERE projectname = %s)"
    )
    yield Step(
        "request install",
        subject,
        (
            (
                "INSERT INTO conda_commands"
                " (project_id, user_id, op, channel_url, arg, lib, version, status, install_type)"
                " SELECT p.id, u.uid, 'INSTALL', 'defaults', '', %s, %s, 'NEW', 'PIP'"
                " FROM project p JOIN users u ON u.email = %s WHERE p.projectname = %s",
                (lib, version, owner, project),
            ),
        ),
    )
    yield Step(
        "install running",
        subject,
        (
            (
                "UPDATE conda_commands SET status = 'ONGOING'" + row,
                (lib, version, "NEW", project),
            ),
        ),
    )
    if ok:
        image = f"{project.lower()}:{cfg.start_millis + build}-{cfg.hopsworks_version}.{build}"
        yield Step(
            "install succeeded",
            subject,
            (
                ("UPDATE project SET docker_image = %s WHERE projectname = %s", (image, project)),
                ("DELETE FROM conda_commands" + row, (lib, version, "ONGOING", project)),
            ),
        )
    else:
        yield Step(
            "install failed",
            subject,
            (
                (
                    "UPDATE conda_commands SET status = 'FAILED', error_message = %s" + row,
                    ("ERROR: No matching distribution found", lib, version, "ONGOING", project),
                ),
            ),
        )
