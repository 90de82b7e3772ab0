"""The Faust worker: CDC topics -> desired state (state topic) -> reconciled Harbor.

`create_app(settings, reconciler)` (streams.app.app) builds everything; the pieces are declared
in their own modules: topics, tables, records; agents in streams.app.agents; the per-key runner
in streams.app.runner; the ingest step in streams.app.ingest.
"""

from streams.app.app import create_app
from streams.app.context import WorkerApp
from streams.app.records import DeadLetter, Origin
from streams.app.runner import KeyedRunner, RetryPolicy

__all__ = ["DeadLetter", "KeyedRunner", "Origin", "RetryPolicy", "WorkerApp", "create_app"]
