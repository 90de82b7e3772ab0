"""`hopsharbor worker | reconcile | replay`: the stream processor's commands.

- worker: the Faust worker (ingest, reconcile, resync; metrics on HOPSHARBOR_METRICS_PORT, 9402).
- reconcile [--dry-run] [KEY...]: reconcile all keys of the state topic, or the keys named
  (`user/<name>`, `project/<name>`); --dry-run prints the plan (create / update / delete per
  resource) and writes nothing.
- replay: rebuild an (empty) Harbor from the state topic: every present key reconciled, users
  before projects, with a progress bar on stderr.

Each handler reads the settings (streams.settings.Settings, env HOPSHARBOR_*) and passes them down.
Exit codes: 0 ok, 1 some key failed or was unknown, 2 bad configuration or Kafka unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from streams.app.progress import ProgressBar
from streams.app.records import DeadLetter, Origin
from streams.app.runner import KeyedRunner, ReconcilerLike, RetryPolicy, decode_state
from streams.app.state_reader import StateTopicError, read_state
from streams.desired.model import StateKey
from streams.settings import Settings

__all__ = ["quiet_worker_logs", "reconcile_keys", "register", "replay_state"]

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="run the stream processor (Faust worker)")
    worker.set_defaults(func=_worker)

    reconcile = subparsers.add_parser("reconcile", help="reconcile keys of the state topic with Harbor")
    reconcile.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    reconcile.add_argument(
        "keys", nargs="*", metavar="KEY", help="user/<name> or project/<name> (default: all)"
    )
    reconcile.set_defaults(func=_reconcile)

    replay = subparsers.add_parser("replay", help="rebuild Harbor from the state topic (progress on stderr)")
    replay.add_argument("--parallelism", type=int, default=None, help="keys at once (default: settings)")
    replay.add_argument(
        "--requeue-timeout", type=float, default=120.0, help="seconds to wait for requeued keys (default 120)"
    )
    replay.set_defaults(func=_replay)


# -- worker --------------------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    import faust

    from streams.app import create_app
    from streams.app.observability import HarborMetrics
    from streams.app.wiring import build_reconciler

    try:
        settings = Settings()
        # Without reconciliation (HOPSHARBOR_RECONCILE_ENABLED=false) Harbor is never called.
        reconciler, client = (
            build_reconciler(settings, HarborMetrics()) if settings.reconcile_enabled else (None, None)
        )
    except ValueError as exc:
        print(f"hopsharbor worker: {exc}", file=sys.stderr)
        return 2
    built = create_app(settings, reconciler)

    async def close_client(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        if client is not None:
            await client.aclose()

    built.app.on_before_shutdown.connect(close_client)  # type: ignore[arg-type]
    worker = faust.Worker(built.app, loglevel=str(getattr(args, "log_level", "INFO")).upper())
    quiet_worker_logs(worker)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def quiet_worker_logs(worker: Any) -> None:
    """No terminal spinner: at WARNING and above, Faust feeds it by setting the root logger to DEBUG,
    so every debug call of aiokafka and Faust builds a log record (a few % of the worker's CPU).
    httpx logs each request at INFO: the Harbor calls are counted in metrics instead."""
    worker.spinner = None
    logging.getLogger("httpx").setLevel(logging.WARNING)


# -- reconcile / replay: the testable cores ------------------------------------------------------


def _ordered(keys: Iterable[str]) -> list[str]:
    return sorted(set(keys), key=lambda k: (not k.startswith("user/"), k))


async def _print_letter(record: DeadLetter, err: TextIO) -> None:
    print(f"{record.key}: failed ({record.reason}): {record.error}", file=err)


async def reconcile_keys(
    state: Mapping[str, str | None],
    reconciler: ReconcilerLike,
    keys: Iterable[str],
    *,
    dry_run: bool,
    parallelism: int = 8,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Plan (dry run) or reconcile `keys` (all present keys when empty). Returns the exit code."""
    wanted = list(keys) or [k for k, v in state.items() if v is not None]
    code = 0
    known: list[str] = []
    for key in wanted:
        try:
            StateKey.decode(key)
        except ValueError as exc:
            print(f"{key}: not a key ({exc})", file=err)
            code = 1
            continue
        if key not in state:
            print(f"{key}: unknown (not in the state topic)", file=err)
            code = 1
            continue
        known.append(key)
    if dry_run:
        totals: dict[str, int] = {"create": 0, "update": 0, "delete": 0}
        for key in _ordered(known):
            skey = StateKey.decode(key)
            try:
                actions = await reconciler.plan(skey, decode_state(skey, state[key]))
            except Exception as exc:  # noqa: BLE001 - a failed plan is reported, the others still print
                print(f"{key}: cannot plan: {exc}", file=err)
                code = 1
                continue
            for action in actions:
                print(f"{key}: {action}", file=out)
                totals[action.kind] = totals.get(action.kind, 0) + 1
            if not actions:
                print(f"{key}: unchanged", file=out)
        summary = ", ".join(f"{n} {kind}" for kind, n in totals.items())
        print(f"plan for {len(known)} keys: {summary}", file=err)
        return code

    async def letter(record: DeadLetter) -> None:
        await _print_letter(record, err)

    runner = KeyedRunner(
        reconciler, state.get, letter, parallelism=parallelism, policy=RetryPolicy(in_place=3)
    )
    counts = await runner.resync(known, Origin(cause="cli"))
    runner.stop()
    print("reconciled: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=err)
    if counts.get("terminal") or counts.get("retriable"):
        code = 1
    return code


async def replay_state(
    state: Mapping[str, str | None],
    reconciler: ReconcilerLike,
    *,
    parallelism: int = 8,
    requeue_timeout: float = 120.0,
    err: TextIO = sys.stderr,
) -> tuple[int, dict[str, int]]:
    """Reconcile every present key (users first) with a progress bar; wait for requeued keys.
    Returns (exit code, outcome counts)."""
    keys = _ordered(k for k, v in state.items() if v is not None)
    failures: list[DeadLetter] = []

    async def letter(record: DeadLetter) -> None:
        failures.append(record)
        await _print_letter(record, err)

    runner = KeyedRunner(reconciler, state.get, letter, parallelism=parallelism)
    bar = ProgressBar(len(keys), stream=err)
    counts = await runner.resync(keys, Origin(cause="cli"), progress=bar)
    bar.close()
    if runner.scheduled:
        print(f"waiting for {len(runner.scheduled)} requeued keys", file=err)
        try:
            await asyncio.wait_for(runner.drain(), requeue_timeout)
        except TimeoutError:
            print(f"still requeued after {requeue_timeout}s: {sorted(runner.scheduled)}", file=err)
            runner.stop()
            return 1, counts
    print(f"replayed {len(keys)} keys in {bar.clock() - bar.started:.1f}s ({bar.rate:.1f} keys/s)", file=err)
    return (1 if failures else 0), counts


# -- handlers ------------------------------------------------------------------------------------


async def _with_harbor(settings: Settings, body: Any) -> int:
    from streams.app.observability import HarborMetrics
    from streams.app.wiring import build_reconciler

    try:
        state = await read_state(settings.kafka_bootstrap, settings.state_topic)
        reconciler, client = build_reconciler(settings, HarborMetrics())
    except (StateTopicError, ValueError) as exc:
        print(f"hopsharbor: {exc}", file=sys.stderr)
        return 2
    try:
        return int(await body(state, reconciler))
    finally:
        await client.aclose()


def _reconcile(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(state: Mapping[str, str | None], reconciler: ReconcilerLike) -> int:
        return await reconcile_keys(
            state, reconciler, args.keys, dry_run=args.dry_run, parallelism=settings.parallelism
        )

    return asyncio.run(_with_harbor(settings, body))


def _replay(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(state: Mapping[str, str | None], reconciler: ReconcilerLike) -> int:
        code, _ = await replay_state(
            state,
            reconciler,
            parallelism=args.parallelism or settings.parallelism,
            requeue_timeout=args.requeue_timeout,
        )
        return code

    return asyncio.run(_with_harbor(settings, body))
