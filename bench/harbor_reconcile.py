"""Harbor calls and time per reconcile, and the reconciler's rebuild rate against a plain loop.

    .venv/bin/python bench/harbor_reconcile.py [--projects 50] [--members 5] [--concurrency 8]
    .venv/bin/python bench/harbor_reconcile.py --fake [--fake-latency-ms 5]   # in-process Harbor stand-in

Against the real Harbor of the local stack (http://127.0.0.1:$HARBOR_PORT, admin password in
.stack/secrets/harbor-admin; the users are created first, everything is deleted at the end).
With --fake the Harbor is the stateful MockTransport stand-in of the unit tests: the call
counts are the real ones, the times are not Harbor's. Prints, side by side in one run:
  - create: calls and writes per project, latency p50/p99 per reconcile;
  - replay onto the converged Harbor: calls and writes per key, without and with the cache;
  - one member added per project: calls per change, without and with the cache;
  - rebuild rate (projects/s) of the reconciler vs a plain loop of the same Harbor calls.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.desired.model import ProjectState, ResourceKind, RobotState, StateKey, UserState  # noqa: E402
from streams.harbor import HarborClient  # noqa: E402
from streams.reconcile import ReconcileConfig, Reconciler  # noqa: E402
from streams.secrets import DirectorySecretStore, generate_secret  # noqa: E402

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class Calls:
    def __init__(self) -> None:
        self.by_method: Counter[str] = Counter()

    async def __call__(self, request: httpx.Request) -> None:
        self.by_method[request.method] += 1

    def take(self) -> tuple[int, int]:
        total = sum(self.by_method.values())
        writes = sum(n for m, n in self.by_method.items() if m in WRITES)
        self.by_method.clear()
        return total, writes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def harbor_target(args: argparse.Namespace) -> tuple[str, str, httpx.AsyncBaseTransport | None, str]:
    if args.fake:
        spec = importlib.util.spec_from_file_location(
            "fake_harbor", REPO / "tests/streams/reconcile/conftest.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_harbor"] = module
        spec.loader.exec_module(module)
        fake = module.FakeHarbor()
        delay = args.fake_latency_ms / 1000

        async def handler(request: httpx.Request) -> httpx.Response:
            if delay:
                await asyncio.sleep(delay)  # a round trip and Harbor's own work, roughly
            return fake(request)

        label = f"in-process fake Harbor, {args.fake_latency_ms:g} ms per call"
        return "http://harbor.fake", module.ADMIN_PASSWORD, httpx.MockTransport(handler), label
    env = dict(
        line.split("=", 1)
        for line in (REPO / "deploy/local/stack.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    url = f"http://127.0.0.1:{env['HARBOR_PORT']}"
    try:
        pong = httpx.get(f"{url}/api/v2.0/ping", timeout=3).text
    except httpx.HTTPError as exc:
        pong = repr(exc)
    if "Pong" not in pong:
        blocked = REPO / ".stack/run/harbor.blocked"
        why = blocked.read_text().splitlines()[0] if blocked.exists() else "run deploy/local/stack up harbor"
        print(f"Harbor does not answer {url}/api/v2.0/ping: {why}\n(use --fake for call counts)")
        raise SystemExit(2)
    return url, (REPO / ".stack/secrets/harbor-admin").read_text().strip(), None, url


async def run(args: argparse.Namespace) -> None:
    url, password, transport, label = harbor_target(args)
    calls = Calls()
    tag = uuid.uuid4().hex[:6]
    users = [f"bu{tag}{i}" for i in range(args.members + 3)]
    names = [f"bench{tag}{i}" for i in range(args.projects)]
    loop_names = [f"loop{tag}{i}" for i in range(args.projects)]
    robots = (RobotState(name="pull", actions=("pull",)), RobotState(name="push", actions=("pull", "push")))

    def desired(name: str, extra: int = 0) -> ProjectState:
        members = (
            {users[0]: 1}
            | {u: 2 for u in users[1 : args.members]}
            | {u: 2 for u in users[args.members : args.members + extra]}
        )
        return ProjectState(name=name, hopsworks_id=1, owner=users[0], members=members, robots=robots)

    async with HarborClient(
        url,
        "admin",
        password,
        transport=transport,
        event_hooks={"request": [calls]},
        max_connections=args.concurrency * 2,
    ) as harbor:
        secrets_dir = tempfile.mkdtemp(prefix="hopsharbor-bench-")
        plain = Reconciler(harbor, ReconcileConfig(owner_account="admin"), DirectorySecretStore(secrets_dir))
        cached = Reconciler(
            harbor, ReconcileConfig(owner_account="admin", cache_ttl=3600), DirectorySecretStore(secrets_dir)
        )
        sem = asyncio.Semaphore(args.concurrency)

        async def each(
            reconciler: Reconciler, states: list[ProjectState | None], keys: list[str]
        ) -> list[float]:
            times: list[float] = []

            async def one(key: str, state: ProjectState | None) -> None:
                async with sem:
                    started = time.perf_counter()
                    result = await reconciler.reconcile(StateKey(kind=ResourceKind.PROJECT, name=key), state)
                    assert result.outcome == "done", result
                    times.append(time.perf_counter() - started)

            await asyncio.gather(*(one(k, s) for k, s in zip(keys, states, strict=True)))
            return times

        try:
            for user in users:
                await plain.reconcile(
                    StateKey(kind=ResourceKind.USER, name=user),
                    UserState(username=user, email=f"{user}@bench.example.com"),
                )
            calls.take()
            n = args.projects
            print(
                f"Harbor: {label}; {n} projects x {args.members} members + 2 robots, "
                f"concurrency {args.concurrency}"
            )

            started = time.perf_counter()
            times = await each(cached, [desired(p) for p in names], names)
            rate_reconciler = n / (time.perf_counter() - started)
            total, writes = calls.take()
            print(
                f"create (cache on)      : {total / n:5.1f} calls/project, {writes / n:5.1f} writes/project, "
                f"p50 {statistics.median(times) * 1000:6.1f} ms, p99 {pct(times, 0.99) * 1000:6.1f} ms"
            )

            for label_, reconciler in (("cache off", plain), ("cache on ", cached)):
                times = await each(reconciler, [desired(p) for p in names], names)
                total, writes = calls.take()
                print(
                    f"replay converged ({label_}): {total / n:5.1f} calls/key, {writes} writes in all, "
                    f"p50 {statistics.median(times) * 1000:6.1f} ms"
                )

            for extra, (label_, reconciler) in enumerate(
                (("cache on ", cached), ("cache off", plain)), start=1
            ):
                await each(reconciler, [desired(p, extra) for p in names], names)
                total, writes = calls.take()
                print(
                    f"add one member ({label_}) : {total / n:5.1f} calls/change, "
                    f"{writes / n:4.1f} writes/change"
                )

            # a plain loop of the same Harbor calls, no reads, no diff
            async def loop_one(name: str) -> None:
                async with sem:
                    await harbor.create_project(name, -1)
                    for user, role in desired(name).members.items():
                        await harbor.add_member(name, user, role)
                    for robot in robots:
                        secret = generate_secret(32)
                        robot_id, _, reported = await harbor.create_robot(
                            name, robot.name, robot.actions, secret=secret
                        )
                        if reported != secret:
                            await harbor.set_robot_secret(robot_id, secret)

            started = time.perf_counter()
            await asyncio.gather(*(loop_one(p) for p in loop_names))
            rate_loop = n / (time.perf_counter() - started)
            total, writes = calls.take()
            print(
                f"plain loop             : {total / n:5.1f} calls/project, {writes / n:5.1f} writes/project"
            )
            print(
                f"rebuild rate           : reconciler {rate_reconciler:7.1f} projects/s | plain loop "
                f"{rate_loop:7.1f} projects/s | ratio {rate_reconciler / rate_loop:4.2f}"
            )
        finally:
            await each(plain, [None] * (2 * len(names)), names + loop_names)
            for user in users:
                found = await harbor.find_user(user)
                if found:
                    await harbor.delete_user(found.user_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fake-latency-ms", type=float, default=0.0, help="with --fake: delay of every call")
    parser.add_argument(
        "--fake", action="store_true", help="in-process MockTransport Harbor (call counts only)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
