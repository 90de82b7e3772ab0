"""Test helpers: Debezium envelopes and a tiny simulated Hopsworks database that records its binlog.

`HopsworksDB` applies Hopsworks-like operations to in-memory tables and appends the change events
MySQL would write for them; ON DELETE CASCADE removes team rows *without* an event, as InnoDB does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streams.mapping import ChangeEvent, ProjectRow, TeamRow, UserRow


def envelope(
    op: str,
    before: dict | None,
    after: dict | None,
    *,
    ts_ms: int = 1_700_000_000_000,
    wrap: bool = False,
    table: str = "users",
) -> bytes:
    payload = {
        "before": before,
        "after": after,
        "op": op,
        "ts_ms": ts_ms + 5,
        "source": {
            "version": "test",
            "connector": "mysql",
            "name": "hopsworks",
            "ts_ms": ts_ms,
            "snapshot": "false",
            "db": "hopsworks",
            "table": table,
        },
    }
    doc: Any = {"schema": {}, "payload": payload} if wrap else payload
    return json.dumps(doc).encode()


def user_row(
    uid: int, username: str, email: str, status: int = 2, mode: int = 0, fname: str = "Ada", lname: str = "L"
) -> dict:
    return {
        "uid": uid,
        "username": username,
        "email": email,
        "fname": fname,
        "lname": lname,
        "status": status,
        "mode": mode,
        "password": "x",
        "max_num_projects": 10,
    }


def project_row(pid: int, name: str, owner: str, creation_status: int = 0, image: str | None = None) -> dict:
    return {
        "id": pid,
        "projectname": name,
        "username": owner,
        "creation_status": creation_status,
        "docker_image": image,
        "description": None,
    }


def team_row(pid: int, email: str, role: str) -> dict:
    return {"project_id": pid, "team_member": email, "team_role": role, "added": 0}


@dataclass
class HopsworksDB:
    users: dict[int, dict] = field(default_factory=dict)
    projects: dict[int, dict] = field(default_factory=dict)
    team: dict[tuple[int, str], dict] = field(default_factory=dict)
    log: list[ChangeEvent] = field(default_factory=list)
    next_uid: int = 1
    next_pid: int = 1

    def _emit(self, table: str, op: str, before: dict | None, after: dict | None) -> None:
        self.log.append(
            ChangeEvent(
                table=table, op=op, key=None, before=before, after=after, source_ts_ms=None, ts_ms=None
            )
        )

    def emails(self) -> list[str]:
        return [u["email"] for u in self.users.values()]

    # users
    def add_user(self, status: int = 2, mode: int = 0, email: str | None = None) -> dict:
        uid = self.next_uid
        self.next_uid += 1
        row = user_row(uid, f"u{uid}", email or f"u{uid}@ex.org", status=status, mode=mode)
        self.users[uid] = row
        self._emit("users", "c", None, row)
        return row

    def update_user(self, uid: int, **changes: Any) -> None:
        before = self.users[uid]
        after = {**before, **changes}
        self.users[uid] = after
        self._emit("users", "u", before, after)

    def delete_user(self, uid: int) -> bool:
        email = self.users[uid]["email"]
        if any(p["username"] == email for p in self.projects.values()):
            return False  # FK ON DELETE NO ACTION: an owner cannot be deleted
        before = self.users.pop(uid)
        for k in [k for k in self.team if k[1] == email]:
            del self.team[k]  # cascade: no binlog event
        self._emit("users", "d", before, None)
        return True

    # projects
    def add_project(self, name: str, owner: str) -> int:
        pid = self.next_pid
        self.next_pid += 1
        row = project_row(pid, name, owner, creation_status=1)
        self.projects[pid] = row
        self._emit("project", "c", None, row)
        self.add_member(pid, owner, "Data owner")
        return pid

    def update_project(self, pid: int, **changes: Any) -> None:
        before = self.projects[pid]
        after = {**before, **changes}
        self.projects[pid] = after
        self._emit("project", "u", before, after)

    def delete_project(self, pid: int) -> None:
        for p, email in sorted(k for k in self.team if k[0] == pid):
            self.set_role(p, email, "Under removal")
        before = self.projects.pop(pid)
        for k in [k for k in self.team if k[0] == pid]:
            del self.team[k]  # cascade: no binlog event
        self._emit("project", "d", before, None)

    # team
    def add_member(self, pid: int, email: str, role: str) -> None:
        if (pid, email) in self.team:
            return
        row = team_row(pid, email, role)
        self.team[(pid, email)] = row
        self._emit("project_team", "c", None, row)

    def set_role(self, pid: int, email: str, role: str) -> None:
        before = self.team[(pid, email)]
        after = {**before, "team_role": role}
        self.team[(pid, email)] = after
        self._emit("project_team", "u", before, after)

    def remove_member(self, pid: int, email: str) -> None:
        before = self.team.pop((pid, email))
        self._emit("project_team", "d", before, None)

    # final tables
    def rows(self) -> tuple[list[UserRow], list[ProjectRow], list[TeamRow]]:
        return (
            [UserRow.from_row(u) for u in self.users.values()],
            [ProjectRow.from_row(p) for p in self.projects.values()],
            [TeamRow.from_row(t) for t in self.team.values()],
        )
