"""KeyedRunner: reconcile keys one at a time per key, `parallelism` keys at once, with backoff.

Called by the reconcile agent (one call per state-topic record), by the resync timer and the
startup resync (`resync(keys)`), and by `hopsharbor replay`. It reads the *current* desired state
of a key through `lookup` when it starts (level-triggered: a record only says "this key is
dirty"), so a burst of records for one key costs one reconcile, and a stale record can never
undo a newer state. The steps of one `run(key)`:

  1. if another call for the key is already waiting, return "coalesced" (that call reads the newest state);
  2. take the key's lock, then one of `parallelism` slots;
  3. desired state unchanged since it failed terminally -> "skipped" (no retry until it changes);
  4. Reconciler.reconcile(key, desired);
  5. RetriableError -> sleep with jittered exponential backoff (per key) and retry, at most
     `policy.in_place` attempts; then the key is retried in the background after the next delay
     and the call returns, so one sick key cannot hold the stream;
  6. TerminalError (or any other exception: a bug) -> dead letter with the reason, key, desired
     state and the origin's offsets; metric; return "terminal";
  7. success -> metrics (end-to-end latency when Harbor changed; drift when a resync changed it);
     "requeue" -> run again in the background after `requeue_after`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streams import metrics
from streams.app.records import DeadLetter, Origin
from streams.app.verdict import Verdict, harbor_verdict
from streams.desired.model import ProjectState, ResourceKind, StateKey, UserState

__all__ = ["DeadLetterSink", "KeyedRunner", "ReconcilerLike", "RetryPolicy", "decode_state"]

log = logging.getLogger(__name__)

Desired = UserState | ProjectState | None
DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]


class ReconcilerLike(Protocol):
    """What the runner needs of streams.reconcile.Reconciler (the seam for unit tests)."""

    async def reconcile(
        self, key: StateKey, desired: Desired, *, request_id: str | None = None, fresh: bool = False
    ) -> Any: ...

    async def plan(self, key: StateKey, desired: Desired) -> Sequence[Any]: ...


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 0.5
    maximum: float = 60.0
    in_place: int = 3
    jitter: float = 0.2

    def delay(self, attempt: int, rng: Callable[[], float]) -> float:
        base = min(self.maximum, self.initial * 2 ** max(0, attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rng() - 1)))


def decode_state(key: StateKey, raw: str | bytes | None) -> Desired:
    """A state-topic value (JSON) -> the desired-state record for `key`; None = must be absent."""
    if raw is None:
        return None
    model = UserState if key.kind is ResourceKind.USER else ProjectState
    return model.model_validate_json(raw)


def _request_id(key: str, origin: Origin) -> str:
    if origin.topic is not None:
        return f"hopsharbor:{origin.topic}:{origin.partition}:{origin.offset}"
    return f"hopsharbor:{origin.cause}:{key}"


class KeyedRunner:
    def __init__(
        self,
        reconciler: ReconcilerLike,
        lookup: Callable[[str], str | None],
        dead_letter: DeadLetterSink,
        *,
        parallelism: int = 8,
        policy: RetryPolicy = RetryPolicy(),
        classify: Callable[[BaseException], Verdict] = harbor_verdict,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.reconciler = reconciler
        self.parallelism = parallelism
        self._lookup = lookup
        self._dead_letter = dead_letter
        self._policy = policy
        self._classify = classify
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._slots = asyncio.Semaphore(parallelism)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: set[str] = set()
        self._failed: dict[str, str | None] = {}  # key -> desired value that failed terminally
        self._attempts: dict[str, int] = {}  # key -> consecutive retriable failures
        self._scheduled: dict[str, asyncio.Future[Any]] = {}

    # -- public ------------------------------------------------------------------------------

    async def run(self, key: str, origin: Origin) -> str:
        """Reconcile `key` now (see the module docstring); returns the result label."""
        if key in self._waiting:
            return "coalesced"
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting.add(key)
        try:
            async with lock:
                self._waiting.discard(key)
                return await self._run_locked(key, origin)
        finally:
            self._waiting.discard(key)
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def resync(
        self, keys: Iterable[str], origin: Origin, progress: Callable[[str, str], None] | None = None
    ) -> dict[str, int]:
        """Run every key, users before projects (a member's user must exist first); returns counts."""
        counts: dict[str, int] = {}
        listed = sorted(set(keys))
        users = [k for k in listed if k.startswith("user/")]
        for phase in (users, [k for k in listed if not k.startswith("user/")]):

            async def worker(pending: Iterator[str]) -> None:
                for key in pending:
                    outcome = await self.run(key, origin)
                    counts[outcome] = counts.get(outcome, 0) + 1
                    if progress is not None:
                        progress(key, outcome)

            shared = iter(phase)  # the workers take keys from one iterator
            await asyncio.gather(*(worker(shared) for _ in range(self.parallelism)))
        return counts

    @property
    def scheduled(self) -> frozenset[str]:
        """Keys waiting for a background retry or requeue."""
        return frozenset(self._scheduled)

    async def drain(self) -> None:
        """Wait for the background retries scheduled so far (for tests and `replay`)."""
        while self._scheduled:
            await asyncio.gather(*list(self._scheduled.values()), return_exceptions=True)

    def stop(self) -> None:
        """Cancel the background retries (called when the worker stops; the startup resync redoes them)."""
        for task in self._scheduled.values():
            task.cancel()
        self._scheduled.clear()

    # -- one key -----------------------------------------------------------------------------

    async def _run_locked(self, key: str, origin: Origin) -> str:
        skey = StateKey.decode(key)
        kind = skey.kind.value
        attempt = 0
        while True:
            raw = self._lookup(key)
            if key in self._failed and self._failed[key] == raw:
                metrics.RECONCILES.labels(kind, "skipped").inc()
                return "skipped"
            try:
                desired = decode_state(skey, raw)
                # A resync must see Harbor as it is now (changes made by hand), not the reconciler's
                # cache of what it observed and wrote before.
                fresh = {"fresh": True} if origin.cause != "event" else {}
                async with self._slots:
                    result = await self.reconciler.reconcile(
                        skey, desired, request_id=_request_id(key, origin), **fresh
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified just below, never swallowed silently
                verdict, reason = self._classify(exc)
                if verdict == "retriable":
                    metrics.RECONCILES.labels(kind, "retriable").inc()
                    attempt += 1
                    failures = self._attempts[key] = self._attempts.get(key, 0) + 1
                    delay = self._policy.delay(failures, self._rng)
                    log.warning(
                        "reconcile %s failed (%s), retry %d in %.1fs: %s", key, reason, failures, delay, exc
                    )
                    if attempt >= self._policy.in_place:
                        self._schedule(key, delay, origin)
                        return "retriable"
                    await self._sleep(delay)
                    continue
                await self._terminal(key, kind, raw, reason, exc, origin)
                return "terminal"
            self._failed.pop(key, None)
            self._attempts.pop(key, None)
            outcome = str(result.outcome)
            metrics.RECONCILES.labels(kind, outcome).inc()
            self._observe(result, origin)
            if outcome == "requeue":
                self._schedule(key, result.requeue_after or self._policy.initial, origin)
            return outcome

    async def _terminal(
        self, key: str, kind: str, raw: str | None, reason: str, exc: BaseException, origin: Origin
    ) -> None:
        metrics.RECONCILES.labels(kind, "terminal").inc()
        self._failed[key] = raw
        self._attempts.pop(key, None)
        log.error("reconcile %s failed for good (%s): %s", key, reason, exc)
        try:
            desired = json.loads(raw) if raw is not None else None
        except ValueError:
            desired = raw
        await self._dead_letter(
            DeadLetter(
                stage="reconcile",
                reason=reason,
                error=str(exc),
                key=key,
                desired=desired,
                origin=origin,
                at=self._clock(),
            )
        )
        metrics.DLQ_RECORDS.labels(reason).inc()

    def _observe(self, result: Any, origin: Origin) -> None:
        changed = [
            r.action
            for r in getattr(result, "results", ())
            if getattr(r.outcome, "value", r.outcome) not in (None, "unchanged")
        ]
        if not changed:
            return
        if origin.source_ts_ms is not None:
            metrics.END_TO_END_LATENCY.observe(max(0.0, self._clock() - origin.source_ts_ms / 1000))
        if origin.cause in ("resync", "start"):
            for action in changed:
                metrics.DRIFT_CORRECTIONS.labels(action.resource).inc()

    def _schedule(self, key: str, delay: float, origin: Origin) -> None:
        if key in self._scheduled:
            return

        async def later() -> None:
            try:
                await self._sleep(delay)
            finally:
                self._scheduled.pop(key, None)
            await self.run(key, origin)

        self._scheduled[key] = asyncio.ensure_future(later())
