"""The stream processor under load: Kafka CDC topics -> worker -> Harbor, with figures.

    .venv/bin/python bench/streams_pipeline.py [--projects 1000] [--members 5] [--rate 100]
        [--harbor fake|real] [--cache-ttl 300] [--parallelism 8]
    .venv/bin/python bench/streams_pipeline.py --projects 10000 --harbor none   # RSS of the state

Needs the local Kafka (deploy/local/stack up kafka). Each run uses fresh topic names. The worker
runs as a subprocess (`--serve`, the real `create_app` with the chosen Harbor):
  - fake: the stateful MockTransport Harbor of the unit tests (tests/streams/reconcile/conftest.py)
    inside the worker: Harbor's own latency is ~0, so the latency is the pipeline's overhead and
    the call counts are the reconciler's real ones;
  - real: the local Harbor (admin password from .stack/secrets/harbor-admin);
  - none: HOPSHARBOR_RECONCILE_ENABLED=false (desired state only; for the RSS figure).
Debezium events are produced as Hopsworks writes them (project ONGOING + owner row, DONE, then
the members one by one) at `--rate` projects/s, with source.ts_ms = the time of sending. Prints:
ingest time, end-to-end latency p50/p99 (from the worker's histogram, interpolated as
Prometheus' histogram_quantile does), Harbor calls and writes per desired-state change, a
resync onto the converged Harbor (calls and writes), and the worker's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


# -- the worker (subprocess) ---------------------------------------------------------------------


def serve(harbor: str) -> int:
    import faust
    import httpx

    from streams.app import create_app
    from streams.app.observability import HarborMetrics
    from streams.app.wiring import build_reconciler
    from streams.commands import quiet_worker_logs
    from streams.harbor import HarborClient
    from streams.reconcile import ReconcileConfig, Reconciler
    from streams.secrets import DirectorySecretStore
    from streams.settings import Settings

    settings = Settings()
    if harbor == "fake":
        spec = importlib.util.spec_from_file_location(
            "fake_harbor", REPO / "tests/streams/reconcile/conftest.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_harbor"] = module
        spec.loader.exec_module(module)
        client = HarborClient(
            "http://harbor.fake",
            module.ADMIN,
            module.ADMIN_PASSWORD,
            transport=httpx.MockTransport(module.FakeHarbor()),
            metrics=HarborMetrics(),
        )
        config = ReconcileConfig(owner_account=module.ADMIN, cache_ttl=settings.cache_ttl)
        reconciler = Reconciler(client, config, DirectorySecretStore(settings.robot_secrets_dir))
    elif harbor == "real":
        reconciler, client = build_reconciler(settings, HarborMetrics())
    else:
        reconciler = None
    built = create_app(settings, reconciler)

    @built.app.page("/bench/resync")
    async def resync(web, request):  # type: ignore[no-untyped-def]
        counts = await built.resync("resync") if built.resync else {}
        return web.json(counts)

    worker = faust.Worker(built.app, loglevel="WARNING")
    quiet_worker_logs(worker)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# -- the driver ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 600) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.read().decode()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(http_get(port, "/metrics")):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples: dict, name: str, **match: str) -> float:
    return sum(
        v
        for (n, labels), v in samples.items()
        if n == name and all(dict(labels).get(k) == val for k, val in match.items())
    )


def harbor_calls(samples: dict) -> tuple[float, float]:
    calls = writes = 0.0
    for (name, labels), value in samples.items():
        if name == "hopsharbor_harbor_requests_total":
            calls += value
            if dict(labels)["method"] in WRITES:
                writes += value
    return calls, writes


def delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def quantile(samples: dict, name: str, q: float) -> float:
    """histogram_quantile over the cumulative buckets of `name` (linear inside a bucket)."""
    buckets = sorted(
        (float(dict(labels)["le"]), value) for (n, labels), value in samples.items() if n == f"{name}_bucket"
    )
    count = buckets[-1][1] if buckets else 0
    if not count:
        return float("nan")
    rank, lower, below = q * count, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(1e-9, cumulative - below)
        lower, below = bound, cumulative
    return lower


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def envelope(op: str, before: dict | None, after: dict | None, table: str) -> bytes:
    now = int(time.time() * 1000)
    return json.dumps(
        {
            "before": before,
            "after": after,
            "op": op,
            "ts_ms": now,
            "source": {"ts_ms": now, "db": "hopsworks", "table": table, "snapshot": "false"},
        }
    ).encode()


async def produce(
    args: argparse.Namespace, prefix: str, users: list[str], *, send_users: bool = True
) -> None:
    from aiokafka import AIOKafkaProducer

    t = lambda table: f"{prefix}.hopsworks.{table}"  # noqa: E731
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, linger_ms=5, acks=1)
    await producer.start()
    try:
        for uid, name in enumerate(users if send_users else [], 1):
            row = {
                "uid": uid,
                "username": name,
                "email": f"{name}@bench.org",
                "fname": "B",
                "lname": name,
                "status": 2,
                "mode": 0,
            }
            await producer.send(
                t("users"), envelope("c", None, row, "users"), key=json.dumps({"uid": uid}).encode()
            )
        await producer.flush()
        interval = 1.0 / args.rate if args.rate > 0 else 0.0
        started = time.monotonic()
        for pid in range(1, args.projects + 1):
            owner = users[pid % len(users)]
            project = {
                "id": pid,
                "projectname": f"Bench_{pid}",
                "username": f"{owner}@bench.org",
                "creation_status": 1,
                "docker_image": None,
            }
            team = [owner] + [users[(pid * 7 + k) % len(users)] for k in range(1, args.members)]
            key = json.dumps({"id": pid}).encode()
            await producer.send(t("project"), envelope("c", None, project, "project"), key=key)
            for i, member in enumerate(team):
                row = {
                    "project_id": pid,
                    "team_member": f"{member}@bench.org",
                    "team_role": "Data owner" if i == 0 else "Data scientist",
                }
                if i == 1:
                    done = {**project, "creation_status": 0}
                    await producer.send(t("project"), envelope("u", project, done, "project"), key=key)
                await producer.send(
                    t("project_team"),
                    envelope("c", None, row, "project_team"),
                    key=json.dumps({"project_id": pid, "team_member": row["team_member"]}).encode(),
                )
            if interval:
                delay = started + pid * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()


def state_latencies(bootstrap: str, topic: str) -> list[float]:
    """Seconds from source.ts_ms (origin header) to the state record's Kafka timestamp, per record."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    latencies: list[float] = []
    while consumer.position(tp) < end:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                origin = json.loads(dict(record.headers or []).get("hopsharbor-origin", b"{}"))
                if origin.get("source_ts_ms") and not origin.get("topic", "").endswith(".users"):
                    latencies.append((record.timestamp - origin["source_ts_ms"]) / 1000)
    consumer.close()
    return sorted(latencies)


async def create_topics(bootstrap: str, names: list[str]) -> None:
    """The CDC topics exist before the worker subscribes (the connector creates them in real life)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, 1) for n in names])
    finally:
        await admin.close()


def wait_converged(port: int, topics: list[str], timeout: float) -> dict:
    """Until every CDC and state partition has lag 0 and no reconcile happened for 2 s."""
    deadline, last, quiet_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        samples = scrape(port)
        lag = sum(
            v
            for (n, labels), v in samples.items()
            if n == "hopsharbor_consumer_lag" and dict(labels)["topic"] in topics
        )
        seen = {dict(labels)["topic"] for (n, labels), _ in samples.items() if n == "hopsharbor_consumer_lag"}
        done = total(samples, "hopsharbor_reconciles_total") + total(
            samples, "hopsharbor_worker_events_total"
        )
        if done != last:
            last, quiet_since = done, time.monotonic()
        if lag == 0 and set(topics) <= seen and time.monotonic() - quiet_since > 2:
            return samples
        time.sleep(0.5)
    raise SystemExit(f"not converged within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5, help="members per project, owner included")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="projects per second (0 = as fast as possible)"
    )
    parser.add_argument("--harbor", choices=("fake", "real", "none"), default="fake")
    parser.add_argument("--cache-ttl", type=float, default=300.0)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--serve", choices=("fake", "real", "none"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if os.environ.get("BENCH_PROFILE"):  # cProfile of the worker, written when it stops
            import cProfile

            profiler = cProfile.Profile()
            code = profiler.runcall(serve, args.serve)
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
            sys.exit(code)
        sys.exit(serve(args.serve))

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="hopsharbor-bench-"))
    env = {
        **os.environ,
        "HOPSHARBOR_KAFKA_BOOTSTRAP": args.bootstrap,
        "HOPSHARBOR_TOPIC_PREFIX": prefix,
        "HOPSHARBOR_STATE_TOPIC": f"{prefix}.state",
        "HOPSHARBOR_DLQ_TOPIC": f"{prefix}.dlq",
        "HOPSHARBOR_APP_ID": f"{prefix}-worker",
        "HOPSHARBOR_DATA_DIR": str(workdir / "data"),
        "HOPSHARBOR_METRICS_PORT": str(port),
        "HOPSHARBOR_ROBOT_SECRETS_DIR": str(workdir / "secrets"),
        "HOPSHARBOR_RESYNC_INTERVAL": "0",
        "HOPSHARBOR_LAG_INTERVAL": "0.5",
        "HOPSHARBOR_PARALLELISM": str(args.parallelism),
        "HOPSHARBOR_CACHE_TTL": str(args.cache_ttl),
        "HOPSHARBOR_RECONCILE_ENABLED": "false" if args.harbor == "none" else "true",
    }
    if args.harbor == "real":
        env["HOPSHARBOR_HARBOR_PASSWORD_FILE"] = str(REPO / ".stack/secrets/harbor-admin")
    asyncio.run(
        create_topics(
            args.bootstrap, [f"{prefix}.hopsworks.{t}" for t in ("users", "project", "project_team")]
        )
    )
    log = (workdir / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", args.harbor],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(240):
            try:
                http_get(port, "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        users = [f"u{i}" for i in range(args.users)]
        # Warm-up: the users first (in Hopsworks a user registers before making projects); the
        # figures below count only what the projects caused.
        asyncio.run(produce(argparse.Namespace(**{**vars(args), "projects": 0}), prefix, users))
        user_keys = args.users if args.harbor != "none" else 0
        while (
            total(scrape(port), "hopsharbor_worker_events_total") < args.users
            or total(scrape(port), "hopsharbor_reconciles_total", kind="user") < user_keys
        ):
            time.sleep(0.2)
        time.sleep(1)
        baseline = scrape(port)
        expected = args.users + args.projects * (2 + args.members)
        t0 = time.monotonic() - 2  # (the `- 2`s below are what used to be a pause after the users)
        asyncio.run(produce(args, prefix, users, send_users=False))
        produced = time.monotonic() - t0
        max_state_lag = 0.0
        while True:
            current = scrape(port)
            max_state_lag = max(
                max_state_lag, total(current, "hopsharbor_consumer_lag", topic=f"{prefix}.state")
            )
            if total(current, "hopsharbor_worker_events_total") >= expected:
                break
            time.sleep(0.1)
        ingested = time.monotonic() - t0 - 2  # minus the pause after the users
        topics = [f"{prefix}.hopsworks.{t}" for t in ("users", "project", "project_team")]
        if args.harbor != "none":
            topics.append(f"{prefix}.state")
        samples = delta(wait_converged(port, topics, args.timeout), baseline)
        converged = time.monotonic() - t0 - 2
        events = total(samples, "hopsharbor_worker_events_total")
        print(
            f"projects {args.projects} x {args.members} members, {args.users} users, harbor={args.harbor}, "
            f"rate {args.rate}/s, parallelism {args.parallelism}, cache_ttl {args.cache_ttl}"
        )
        print(
            f"  events consumed          {events:.0f} in {ingested:.1f}s (produced in {produced - 2:.1f}s):"
            f" {events / ingested:.0f} events/s; all settled after {converged:.1f}s"
        )
        print(f"  worker RSS               {rss_mb(proc.pid):.0f} MB")
        print(f"  state topic lag (max)    {max_state_lag:.0f} records while producing")
        lat = state_latencies(args.bootstrap, f"{prefix}.state")
        if lat:
            print(
                f"  commit -> state topic    p50 {lat[len(lat) // 2] * 1000:.0f} ms"
                f"   p90 {lat[int(len(lat) * 0.9)] * 1000:.0f} ms"
                f"   p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms"
                f"   ({len(lat)} desired-state changes)"
            )
        if args.harbor != "none":
            reconciles = total(samples, "hopsharbor_reconciles_total")
            state_changes = reconciles - total(samples, "hopsharbor_reconciles_total", result="skipped")
            calls, writes = harbor_calls(samples)
            p50 = quantile(samples, "hopsharbor_end_to_end_latency_seconds", 0.5)
            p99 = quantile(samples, "hopsharbor_end_to_end_latency_seconds", 0.99)
            print(
                f"  end-to-end latency       p50 {p50 * 1000:.0f} ms   p99 {p99 * 1000:.0f} ms"
                f"   (targets 200 ms / 1000 ms)"
            )
            print(
                f"  reconciles               {reconciles:.0f}  "
                + "  ".join(
                    f"{r} {total(samples, 'hopsharbor_reconciles_total', result=r):.0f}"
                    for r in ("done", "requeue", "retriable", "terminal")
                )
            )
            print(
                f"  Harbor calls per desired-state change  {calls / max(1, len(lat)):.2f}"
                f" (writes {writes / max(1, len(lat)):.2f})"
            )
            print(
                f"  Harbor calls per reconcile  {calls / max(1, state_changes):.2f}"
                f"  (writes {writes / max(1, state_changes):.2f};"
                f" {calls:.0f} calls, {writes:.0f} writes for {state_changes:.0f} reconciles)"
            )
            before_resync = scrape(port)
            t1 = time.monotonic()
            counts = json.loads(http_get(port, "/bench/resync"))
            resync_calls, resync_writes = harbor_calls(delta(scrape(port), before_resync))
            keys = sum(counts.values())
            print(
                f"  resync onto converged    {keys} keys in {time.monotonic() - t1:.1f}s: "
                f"{resync_calls / max(1, keys):.2f} calls/key, {resync_writes:.0f} writes  {counts}"
            )
        print(f"  (topics {prefix}.*, worker log {workdir / 'worker.log'})")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
