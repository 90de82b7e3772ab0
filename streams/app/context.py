"""WorkerApp: the Faust app with the parts create_app wired into it (for the CLI and tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.app.ingest import Ingestor
from streams.app.runner import KeyedRunner
from streams.app.topics import Topics
from streams.mapping import Mirror, MirrorTables

__all__ = ["WorkerApp"]


@dataclass
class WorkerApp:
    app: faust.App
    topics: Topics
    tables: MirrorTables
    mirror: Mirror
    ingestor: Ingestor
    runner: KeyedRunner
    agents: dict[str, Any] = field(default_factory=dict)  # name -> faust agent
    # resync(cause) -> outcome counts: every key reconciled again now (None when reconcile is off)
    resync: Callable[[str], Awaitable[dict[str, int]]] | None = None
