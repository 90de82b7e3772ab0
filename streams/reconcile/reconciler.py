"""Reconciler: level-triggered, per key. Read desired (given), read Harbor, diff, apply.

Called by the worker's reconcile agent (streams/app) for each dirty key and by the periodic
resync, and by `hopsharbor reconcile` (plan for --dry-run). The steps of one reconcile:

  1. take the key's lock (one reconcile per key at a time, any number of keys in parallel);
  2. observe Harbor for that key (reads only);
  3. diff desired against observed (pure; TerminalError for a foreign project or a bad name);
  4. nothing to do -> "done" without a single write;
  5. apply the actions in the plan's safe order;
  6. "requeue" after config.requeue_after if some action had to wait, else "done".

Failures: RetriableError (Harbor down, 5xx, 429, after the client's own retries) -> the caller
backs off for this key and calls again; TerminalError -> the caller dead-letters the key and
does not retry until its desired state changes. A half-applied plan is harmless: the next
reconcile observes what was done and plans only the rest.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from streams.desired.model import ProjectState, ResourceKind, StateKey, UserState
from streams.harbor._http import request_id_scope
from streams.harbor.client import HarborClient
from streams.harbor.errors import TerminalError
from streams.reconcile.actions import Action, ReconcileResult
from streams.reconcile.apply import Applier
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.diff import diff_project, diff_user
from streams.reconcile.observe import observe_project, observe_user
from streams.secrets.base import SecretStore

__all__ = ["Reconciler"]

Desired = UserState | ProjectState | None


class Reconciler:
    def __init__(
        self,
        client: HarborClient,
        config: ReconcileConfig,
        secrets: SecretStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.config = config
        self.secrets = secrets
        self.clock = clock
        self._applier = Applier(client, config, secrets)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

    async def reconcile(
        self, key: StateKey, desired: Desired, *, request_id: str | None = None
    ) -> ReconcileResult:
        """Make Harbor match `desired` for `key` (None: absent). `request_id` (e.g. derived from the
        event's topic/partition/offset) prefixes the X-Request-Id of every Harbor call."""
        async with self._lock(key.encode()):
            with request_id_scope(request_id or f"hopsharbor:{key.encode()}:{uuid.uuid4().hex[:8]}"):
                actions = await self._diff(key, desired)
                if not actions:
                    return ReconcileResult("done", None, [], [])
                results = await self._applier.apply(key.name, actions)
        if any(r.outcome is None for r in results):
            return ReconcileResult("requeue", self.config.requeue_after, actions, results)
        return ReconcileResult("done", None, actions, results)

    async def plan(self, key: StateKey, desired: Desired) -> list[Action]:
        """The actions reconcile would apply now, without writing anything (for --dry-run)."""
        with request_id_scope(f"hopsharbor:plan:{key.encode()}"):
            return await self._diff(key, desired)

    async def _diff(self, key: StateKey, desired: Desired) -> list[Action]:
        if key.kind is ResourceKind.USER:
            if desired is not None and not isinstance(desired, UserState):
                raise TerminalError("bad_request", f"{key.encode()}: expected a UserState")
            if not self.config.db_auth:
                return []
            return diff_user(key.name, desired, await observe_user(self.client, key.name), self.config)
        if desired is not None and not isinstance(desired, ProjectState):
            raise TerminalError("bad_request", f"{key.encode()}: expected a ProjectState")
        observed = await observe_project(
            self.client,
            self.config,
            self.secrets,
            key.name,
            for_deletion=desired is None,
            robots_wanted=frozenset(r.name for r in desired.robots) if desired else frozenset(),
        )
        return diff_project(key.name, desired, observed, self.config)

    def _lock(self, key: str) -> _KeyLock:
        return _KeyLock(self, key)


class _KeyLock:
    """The per-key asyncio.Lock, dropped from the table when nobody holds or waits for it."""

    def __init__(self, owner: Reconciler, key: str) -> None:
        self.owner, self.key = owner, key

    async def __aenter__(self) -> None:
        owner = self.owner
        lock = owner._locks.setdefault(self.key, asyncio.Lock())
        owner._waiters[self.key] = owner._waiters.get(self.key, 0) + 1
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        owner = self.owner
        owner._locks[self.key].release()
        owner._waiters[self.key] -= 1
        if owner._waiters[self.key] == 0:
            del owner._waiters[self.key]
            del owner._locks[self.key]
