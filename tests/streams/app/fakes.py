"""Fakes injected through the worker's seams (the Reconciler protocol, the sinks, sleep, the verdict)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.app.records import DeadLetter, Origin
from streams.desired.model import StateKey
from streams.mapping import Emission


class Retriable(Exception):
    reason = "server"


class Terminal(Exception):
    reason = "foreign_project"


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, Retriable):
        return "retriable", exc.reason
    if isinstance(exc, Terminal):
        return "terminal", exc.reason
    return "terminal", "internal"


@dataclass(frozen=True)
class FakeAction:
    kind: str
    resource: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.resource} {self.name}"


@dataclass(frozen=True)
class FakeResult:
    outcome: str = "done"
    requeue_after: float | None = None
    actions: list = field(default_factory=list)
    results: list = field(default_factory=list)


@dataclass(frozen=True)
class FakeActionResult:
    action: FakeAction
    outcome: str | None


class FakeReconciler:
    """Records calls; `script[key]` is a list of things to do on successive calls: an exception to
    raise, a FakeResult to return; `delay` makes each reconcile take that long (to see overlap)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.script: dict[str, list[Any]] = {}
        self.delay = delay
        self.running: set[str] = set()
        self.max_running = 0
        self.overlap: list[str] = []
        self.request_ids: list[str | None] = []
        self.fresh: list[bool] = []

    async def reconcile(
        self, key: StateKey, desired: Any, *, request_id: str | None = None, fresh: bool = False
    ) -> Any:
        encoded = key.encode()
        self.fresh.append(fresh)
        if encoded in self.running:
            self.overlap.append(encoded)
        self.running.add(encoded)
        self.max_running = max(self.max_running, len(self.running))
        try:
            self.calls.append((encoded, desired))
            self.request_ids.append(request_id)
            if self.delay:
                await asyncio.sleep(self.delay)
            steps = self.script.get(encoded)
            step = steps.pop(0) if steps else FakeResult()
            if isinstance(step, BaseException):
                raise step
            return step
        finally:
            self.running.discard(encoded)

    async def plan(self, key: StateKey, desired: Any) -> list[FakeAction]:
        self.calls.append((key.encode(), desired))
        return [FakeAction("create", key.kind.value, key.name)] if desired is not None else []


def changed(*resources: str) -> FakeResult:
    actions = [FakeAction("create", r, f"x-{r}") for r in resources]
    return FakeResult("done", None, actions, [FakeActionResult(a, "created") for a in actions])


@dataclass
class Sinks:
    states: list[tuple[Emission, Origin]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    on_state: Callable[[Emission, Origin], None] | None = None

    async def state(self, emission: Emission, origin: Origin) -> None:
        if self.on_state is not None:
            self.on_state(emission, origin)
        self.states.append((emission, origin))

    async def dead_letter(self, record: DeadLetter) -> None:
        self.letters.append(record)


class Sleeps:
    """An injected sleep that records the delays and yields once instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)
