"""create_app: the Faust App of `hopsharbor worker`, with its topics, tables and agents.

Called by the `worker` command (and by tests) with the process settings and a reconciler; the
settings are applied here, late, never at import. Nothing in this module runs by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streams.app.agents import heartbeat as heartbeat_agent
from streams.app.agents import ingest as ingest_agents
from streams.app.agents import reconcile as reconcile_agent
from streams.app.agents import resync as resync_timer
from streams.app.context import WorkerApp
from streams.app.ingest import Ingestor, StateSink
from streams.app.observability import init_metrics, register_lag, register_pages
from streams.app.records import ORIGIN_HEADER, DeadLetter, Origin
from streams.app.runner import DeadLetterSink, KeyedRunner, ReconcilerLike, RetryPolicy
from streams.app.tables import declare_tables
from streams.app.topics import declare_topics
from streams.app.verdict import Verdict, harbor_verdict
from streams.images.agent import register_image_agents
from streams.mapping import Emission, Mirror
from streams.settings import Settings

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    reconciler: ReconcilerLike | None,
    *,
    classify: Callable[[BaseException], Verdict] = harbor_verdict,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    state_sink: StateSink | None = None,
    dead_letter_sink: DeadLetterSink | None = None,
) -> WorkerApp:
    """Build the worker. `state_sink` / `dead_letter_sink` replace the sends to the state and
    dead-letter topics (seams for unit tests, which have no broker); `classify`, `clock` and
    `sleep` are passed to the KeyedRunner."""
    if reconciler is None and settings.reconcile_enabled:
        raise ValueError("a reconciler is needed unless HOPSHARBOR_RECONCILE_ENABLED=false")
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",  # a new consumer group reads the CDC topics from the start
        # A CDC topic created after the worker started (connector started later) is only consumed once
        # the consumer refreshes its metadata: every 30 s rather than aiokafka's 5 minutes.
        consumer_metadata_max_age_ms=30_000,
        producer_acks=-1,
        # Batch the state and changelog records of a burst (one Hopsworks action = several rows):
        # far fewer produce requests for at most 5 ms more latency.
        producer_linger=0.005,
        web_enabled=True,
        web_bind=settings.metrics_host,
        web_host=settings.metrics_host,
        web_port=settings.metrics_port,
        autodiscover=False,
    )
    topics = declare_topics(app, settings)
    tables = declare_tables(app, settings)
    mirror = Mirror(tables, settings.mapping_config())

    # Both output topics are created through Faust once, before their first send: Faust refreshes
    # the producer's metadata after creating a topic. A topic auto-created by a produce request
    # instead can leave its first batch waiting for a leader until the next metadata refresh
    # (5 minutes), and every commit's producer flush with it. (maybe_declare itself is not cached:
    # it asks the broker each time.)
    declared: set[str] = set()

    async def declare_once(topic: Any) -> None:
        name = topic.get_topic_name()
        if name not in declared:
            await topic.maybe_declare()
            declared.add(name)

    async def dead_letter(record: DeadLetter) -> None:
        await declare_once(topics.dlq)
        await topics.dlq.send(key=record.key, value=record.model_dump_json().encode())

    async def send_state(emission: Emission, origin: Origin) -> None:
        value = emission.value
        await declare_once(topics.state)
        await topics.state.send(
            key=emission.key.encode().encode(),
            value=None if value is None else value.encode(),
            headers={ORIGIN_HEADER: origin.model_dump_json().encode()},
        )

    def lookup(key: str) -> str | None:
        value = tables.desired.get(key)
        return value if isinstance(value, str) else None

    runner = KeyedRunner(
        reconciler or _NoReconciler(),
        lookup,
        dead_letter_sink or dead_letter,
        parallelism=settings.parallelism,
        policy=RetryPolicy(settings.retry_initial, settings.retry_max, settings.retry_in_place),
        classify=classify,
        clock=clock,
        sleep=sleep,
    )
    ingestor = Ingestor(mirror, state_sink or send_state, dead_letter_sink or dead_letter, clock=clock)
    agents: dict[str, Any] = {}
    agents.update(ingest_agents.register(app, topics.cdc, ingestor))
    register_image_agents(app, settings, project_rows=tables.projects, dead_letter_topic=topics.dlq)
    heartbeat_agent.register(app, settings.topic_prefix)
    resync = None
    if settings.reconcile_enabled:
        agents.update(reconcile_agent.register(app, topics.state, runner))
        resync = resync_timer.register(
            app, mirror, runner, interval=settings.resync_interval, on_start=settings.resync_on_start
        )

    async def stop_runner(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runner.stop()  # background retries die with the process; the startup resync redoes them

    app.on_before_shutdown.connect(stop_runner)  # type: ignore[arg-type]  # mode types its receivers oddly
    init_metrics()
    register_lag(app, [*settings.cdc_topics().values(), settings.state_topic], settings.lag_interval)
    register_pages(app)
    return WorkerApp(
        app=app,
        topics=topics,
        tables=tables,
        mirror=mirror,
        ingestor=ingestor,
        runner=runner,
        agents=agents,
        resync=resync,
    )


class _NoReconciler:
    """Stands in when reconciliation is switched off: the reconcile agent and resync are not
    registered then, so nothing calls it."""

    async def reconcile(
        self, key: Any, desired: Any, *, request_id: str | None = None, fresh: bool = False
    ) -> Any:
        raise RuntimeError("reconciliation is switched off (HOPSHARBOR_RECONCILE_ENABLED=false)")

    async def plan(self, key: Any, desired: Any) -> list[Any]:
        return []
