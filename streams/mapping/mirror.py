"""The incremental side of the mapping: fold one change event into the working tables and say
which desired states changed.

Called by the ingest agent once per CDC event, in the order the agent receives them (per table,
per partition; nothing orders events of different tables, so every step tolerates a row that
arrives before the row it refers to). The tables are any MutableMappings of JSON values: Faust
tables in the worker (every value is re-assigned, never mutated in place, so each change reaches
the changelog), plain dicts in tests.

Working tables:
- users        email -> UserRow dict
- projects     str(project id) -> ProjectRow dict
- teams        str(project id) -> {email: team_role}
- memberships  email -> sorted [str(project id)] where the email is owner or team member
               (the reverse index: a user's change makes these projects dirty)
- desired      StateKey.encode() -> JSON of the desired state (absent key = must be absent)

ON DELETE CASCADE removes `project_team` rows without writing them to the binlog, so the mirror
applies those cascades itself: a deleted project takes its team with it, and so does a deleted user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from streams.desired.model import ProjectState, StateKey, UserState
from streams.mapping.config import MappingConfig
from streams.mapping.derive import Pending, derive_project, derive_user, project_key, project_name
from streams.mapping.events import ChangeEvent
from streams.mapping.rows import ProjectRow, TeamRow, UserRow

__all__ = ["Emission", "Mirror", "MirrorTables"]

DesiredValue = UserState | ProjectState | None | Pending


@dataclass(frozen=True)
class MirrorTables:
    users: MutableMapping[str, Any]
    projects: MutableMapping[str, Any]
    teams: MutableMapping[str, Any]
    memberships: MutableMapping[str, Any]
    desired: MutableMapping[str, Any]

    @classmethod
    def in_memory(cls) -> MirrorTables:
        return cls(users={}, projects={}, teams={}, memberships={}, desired={})


@dataclass(frozen=True)
class Emission:
    """A changed desired state: `state` None = the resource must be absent (tombstone)."""

    key: StateKey
    state: UserState | ProjectState | None

    @property
    def value(self) -> str | None:
        return None if self.state is None else self.state.model_dump_json()


class _UsersView(Mapping[str, UserRow]):
    """Read-only view of the users table that yields parsed rows."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self._table = table

    def __getitem__(self, email: str) -> UserRow:
        raw = self._table.get(email)
        if raw is None:
            raise KeyError(email)
        return UserRow.model_validate(raw)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.keys())

    def __len__(self) -> int:
        return len(self._table)


class Mirror:
    """Applies change events to the working tables and returns the desired states that changed."""

    def __init__(self, tables: MirrorTables, config: MappingConfig) -> None:
        self.tables = tables
        self.config = config
        self._users = _UsersView(tables.users)
        self._handlers: dict[str, Callable[[ChangeEvent, dict[StateKey, DesiredValue]], None]] = {
            "users": self._on_user,
            "project": self._on_project,
            "project_team": self._on_team,
        }

    # -- entry point ---------------------------------------------------------------------------

    def apply(self, event: ChangeEvent, *, record: bool = True) -> list[Emission]:
        """Fold `event` in; return the changed desired states, users first (user before membership).

        With record=False the `desired` table is left as it was: the ingest agent first sends the
        emissions to the state topic and then calls `record`, so a crash in between makes the
        replayed event emit them again instead of losing them. Raises MalformedEvent (from the
        row parsers) before any table is written.
        """
        candidates: dict[StateKey, DesiredValue] = {}
        self._handlers[event.table](event, candidates)
        emissions = self._changed(candidates)
        if record:
            self.record(emissions)
        return emissions

    def record(self, emissions: list[Emission]) -> None:
        """Write emitted states to the `desired` table (absent = deleted key)."""
        desired = self.tables.desired
        for emission in emissions:
            encoded = emission.key.encode()
            value = emission.value
            if value is not None:
                desired[encoded] = value
            elif encoded in desired:
                del desired[encoded]

    def resync_keys(self) -> list[str]:
        """Every key with a desired state (for the periodic full resync)."""
        return list(self.tables.desired.keys())

    # -- per table -----------------------------------------------------------------------------

    def _on_user(self, event: ChangeEvent, out: dict[StateKey, DesiredValue]) -> None:
        before = UserRow.from_row(event.before) if event.before is not None else None
        after = UserRow.from_row(event.after) if event.after is not None else None
        users = self.tables.users
        dirty: set[str] = set()
        if before is not None and before.email is not None:
            stored = users.get(before.email)
            old = UserRow.model_validate(stored) if stored is not None else before
            self._candidate(out, derive_user(old, self.config), absent=True)
            if after is None or after.email != before.email:
                if before.email in users:
                    del users[before.email]
                dirty |= self._cascade_user(before.email)
        if after is not None and after.email is not None:
            users[after.email] = after.dump()
            dirty.update(self.tables.memberships.get(after.email, ()))
            self._candidate(out, derive_user(after, self.config))
        for pid in sorted(dirty):
            self._project_candidates(pid, out)

    def _on_project(self, event: ChangeEvent, out: dict[StateKey, DesiredValue]) -> None:
        before = ProjectRow.from_row(event.before) if event.before is not None else None
        after = ProjectRow.from_row(event.after) if event.after is not None else None
        projects = self.tables.projects
        row = after if after is not None else before
        assert row is not None
        pid = str(row.id)
        stored = projects.get(pid)
        old = ProjectRow.model_validate(stored) if stored is not None else before
        if old is not None:
            out.setdefault(project_key(project_name(old, self.config)), None)
        if after is not None:
            projects[pid] = after.dump()
            if old is not None and old.username != after.username:
                self._relink(old.username, pid)
            self._relink(after.username, pid)
            self._project_candidates(pid, out)
            return
        # Deleted: the database cascaded its team rows away without a binlog entry.
        if pid in projects:
            del projects[pid]
        team = self.tables.teams.get(pid) or {}
        if pid in self.tables.teams:
            del self.tables.teams[pid]
        for email in sorted(set(team) | ({old.username} if old is not None else set())):
            self._relink(email, pid)

    def _on_team(self, event: ChangeEvent, out: dict[StateKey, DesiredValue]) -> None:
        before = TeamRow.from_row(event.before) if event.before is not None else None
        after = TeamRow.from_row(event.after) if event.after is not None else None
        dirty: set[str] = set()
        if before is not None and (
            after is None or (after.project_id, after.team_member) != (before.project_id, before.team_member)
        ):
            pid = str(before.project_id)
            team = dict(self.tables.teams.get(pid) or {})
            if team.pop(before.team_member, None) is not None:
                self._put_team(pid, team)
            self._relink(before.team_member, pid)
            dirty.add(pid)
        if after is not None:
            pid = str(after.project_id)
            team = dict(self.tables.teams.get(pid) or {})
            team[after.team_member] = after.team_role
            self._put_team(pid, team)
            self._relink(after.team_member, pid)
            dirty.add(pid)
        for pid in sorted(dirty):
            self._project_candidates(pid, out)

    # -- helpers -------------------------------------------------------------------------------

    def _put_team(self, pid: str, team: dict[str, str]) -> None:
        if team:
            self.tables.teams[pid] = team
        elif pid in self.tables.teams:
            del self.tables.teams[pid]

    def _cascade_user(self, email: str) -> set[str]:
        """A deleted user leaves every team (ON DELETE CASCADE); returns the projects affected."""
        pids = set(self.tables.memberships.get(email, ()))
        for pid in sorted(pids):
            team = dict(self.tables.teams.get(pid) or {})
            if team.pop(email, None) is not None:
                self._put_team(pid, team)
            self._relink(email, pid)
        return pids

    def _relink(self, email: str, pid: str) -> None:
        """Bring memberships[email] in line with whether `email` owns or is in project `pid`."""
        stored = self.tables.projects.get(pid)
        linked = email in (self.tables.teams.get(pid) or {}) or (
            stored is not None and stored.get("username") == email
        )
        current = list(self.tables.memberships.get(email, ()))
        if linked and pid not in current:
            self.tables.memberships[email] = sorted([*current, pid])
        elif not linked and pid in current:
            current.remove(pid)
            if current:
                self.tables.memberships[email] = current
            else:
                del self.tables.memberships[email]

    def _candidate(
        self,
        out: dict[StateKey, DesiredValue],
        derived: tuple[StateKey, UserState] | None,
        absent: bool = False,
    ) -> None:
        if derived is None:
            return
        key, state = derived
        if absent:
            out.setdefault(key, None)
        else:
            out[key] = state

    def _project_candidates(self, pid: str, out: dict[StateKey, DesiredValue]) -> None:
        stored = self.tables.projects.get(pid)
        if stored is None:
            return  # a team row of a project not seen yet (or already deleted)
        project = ProjectRow.model_validate(stored)
        team_roles = self.tables.teams.get(pid) or {}
        team = [TeamRow(project_id=project.id, team_member=e, team_role=r) for e, r in team_roles.items()]
        state = derive_project(project, team, self._users, self.config)
        out[project_key(project_name(project, self.config))] = state

    def _changed(self, candidates: dict[StateKey, DesiredValue]) -> list[Emission]:
        desired = self.tables.desired
        emissions: list[Emission] = []
        for key, state in candidates.items():
            if isinstance(state, Pending):
                continue
            value = None if state is None else state.model_dump_json()
            if desired.get(key.encode()) != value:
                emissions.append(Emission(key=key, state=state))
        emissions.sort(key=lambda e: e.key.kind.value != "user")  # users first; stable otherwise
        return emissions
