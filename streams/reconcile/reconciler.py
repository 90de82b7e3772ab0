"""Reconciler: level-triggered, per key. Read desired (given), read Harbor, diff, apply.

Called by the worker's reconcile agent (streams/app) for each dirty key and by the periodic
resync, and by `hopsharbor reconcile` (plan for --dry-run). The steps of one reconcile:

  1. take the key's lock (one reconcile per key at a time, any number of keys in parallel);
  2. observe Harbor for that key (reads only), or take the cached observation (config.cache_ttl);
  3. diff desired against observed (pure; TerminalError for a foreign project or a bad name);
  4. nothing to do -> "done" without a single write;
  5. apply the actions in the plan's safe order;
  6. "requeue" after config.requeue_after if some action had to wait, else "done".

Failures: RetriableError (Harbor down, 5xx, 429, after the client's own retries) -> the caller
backs off for this key and calls again; TerminalError -> the caller dead-letters the key and
does not retry until its desired state changes. A half-applied plan is harmless: the next
reconcile observes what was done and plans only the rest. Any failure drops the key's cache entry.
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
from streams.reconcile.actions import Action, ActionResult, ReconcileResult
from streams.reconcile.apply import Applier
from streams.reconcile.cache import UNKNOWN_ID, Observed, ObservedCache, observed_after
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.diff import diff_project, diff_user
from streams.reconcile.observe import ObservedProject, ObservedUser, observe_project, observe_user
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
        self.cache = ObservedCache(config.cache_ttl, config.cache_max_keys, clock)
        self._applier = Applier(client, config, secrets)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

    async def reconcile(
        self, key: StateKey, desired: Desired, *, request_id: str | None = None, fresh: bool = False
    ) -> ReconcileResult:
        """Make Harbor match `desired` for `key` (None: absent).

        `request_id` (e.g. derived from the event's topic/partition/offset) prefixes the
        X-Request-Id of every Harbor call. `fresh=True` ignores the cache (the periodic resync
        uses it so that changes made by hand are seen).
        """
        encoded = key.encode()
        async with _KeyLock(self, encoded):
            with request_id_scope(request_id or f"hopsharbor:{encoded}:{uuid.uuid4().hex[:8]}"):
                try:
                    return await self._reconcile(key, encoded, desired, fresh)
                except BaseException:
                    self.cache.drop(encoded)
                    raise

    async def plan(self, key: StateKey, desired: Desired) -> list[Action]:
        """The actions reconcile would apply now, without writing anything (for --dry-run).
        Always reads Harbor (never the cache)."""
        with request_id_scope(f"hopsharbor:plan:{key.encode()}"):
            return self._diff(key, desired, await self._observe(key, desired))

    def forget(self, key: StateKey | None = None) -> None:
        """Drop the cached observation of `key` (of every key when None)."""
        if key is None:
            self.cache.clear()
        else:
            self.cache.drop(key.encode())

    async def _reconcile(self, key: StateKey, encoded: str, desired: Desired, fresh: bool) -> ReconcileResult:
        observed = None if fresh else self._cached(encoded, desired)
        cached = observed is not None
        if observed is None:
            observed = await self._observe(key, desired)
        actions = self._diff(key, desired, observed)
        if cached and any(a.ref == UNKNOWN_ID for a in actions):
            return await self._reconcile(key, encoded, desired, fresh=True)
        if not actions:
            self.cache.put(encoded, observed)
            return ReconcileResult("done", None, [], [])
        try:
            results = await self._applier.apply(key.name, actions)
        except TerminalError:
            if not cached:
                raise
            # planned from a stale cache entry (e.g. a member removed by hand, then a 404): the
            # writes that succeeded are idempotent, so plan again from what Harbor really holds
            self.cache.drop(encoded)
            return await self._reconcile(key, encoded, desired, fresh=True)
        self.cache.put(encoded, self._after(observed, results, desired))
        if any(r.outcome is None for r in results):
            return ReconcileResult("requeue", self.config.requeue_after, actions, results)
        return ReconcileResult("done", None, actions, results)

    def _cached(self, encoded: str, desired: Desired) -> Observed | None:
        if self.config.cache_ttl <= 0:
            return None
        observed = self.cache.get(encoded)
        if isinstance(observed, ObservedProject) and observed.project is not None:
            # a teardown needs the repositories and tag rules, a normal diff the details
            if desired is None or not observed.detailed:
                return None
        return observed

    def _after(self, observed: Observed, results: list[ActionResult], desired: Desired) -> Observed | None:
        if self.config.cache_ttl <= 0:
            return None
        return observed_after(observed, results, desired, self.config)

    async def _observe(self, key: StateKey, desired: Desired) -> Observed:
        if key.kind is ResourceKind.USER:
            if desired is not None and not isinstance(desired, UserState):
                raise TerminalError("bad_request", f"{key.encode()}: expected a UserState")
            if not self.config.db_auth:
                return ObservedUser(None)
            return await observe_user(self.client, key.name)
        if desired is not None and not isinstance(desired, ProjectState):
            raise TerminalError("bad_request", f"{key.encode()}: expected a ProjectState")
        return await observe_project(
            self.client,
            self.config,
            self.secrets,
            key.name,
            for_deletion=desired is None,
            robots_wanted=frozenset(r.name for r in desired.robots) if desired else frozenset(),
        )

    def _diff(self, key: StateKey, desired: Desired, observed: Observed) -> list[Action]:
        if isinstance(observed, ObservedUser):
            assert desired is None or isinstance(desired, UserState)
            return diff_user(key.name, desired, observed, self.config)
        assert desired is None or isinstance(desired, ProjectState)
        return diff_project(key.name, desired, observed, self.config)


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
