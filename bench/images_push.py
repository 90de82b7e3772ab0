"""Environment-image bench: bytes pushed per library change, and 6 projects at once against 1.

Runs the real pipeline (ImageService + BuildQueue + ImageBuilder) against the stack's dockerd
and a registry (default the plain registry 127.0.0.1:15000, no auth; Harbor needs robots, see
tests/streams/images/test_build_harbor.py). Wheels are made on the spot (incompressible payload
of --payload-mb) and served over HTTP from 127.0.0.1, builds use network "host", so each library
change adds exactly one RUN layer, as Hopsworks' `RUN pip install` does.

    .venv/bin/python bench/images_push.py [--changes 3] [--projects 6] [--payload-mb 2]

Prints, side by side: per change the compressed bytes pushed, the new layer's compressed size and
their ratio (target <= 1.1x) against the whole image; then build+push and push-only durations
(median, p90) for 1 project alone and N projects at once (wall: the whole run), and the p90
ratio (target <= 2x). A warm-up build comes first and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402

from streams.images.builder import BuildResult, ImageBuilder  # noqa: E402
from streams.images.buildqueue import BuildQueue, Job  # noqa: E402
from streams.images.commands import CondaCommand  # noqa: E402
from streams.images.config import ImageConfig  # noqa: E402
from streams.images.credentials import AnonymousCredentials  # noqa: E402
from streams.images.lifecycle import Action  # noqa: E402
from streams.images.projects import ProjectDirectory  # noqa: E402
from streams.images.registry import RegistryClient  # noqa: E402
from streams.images.service import ImageService  # noqa: E402
from streams.images.state import MemoryImageStore  # noqa: E402
from tests.conftest import STACK_ENV, Stack, _read_env_file  # noqa: E402
from tests.streams.images.wheels import make_wheel  # noqa: E402


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Recorder:
    def __init__(self, builder: ImageBuilder) -> None:
        self.results: list[tuple[str, BuildResult, float]] = []
        original = builder.build_and_push

        def wrapped(parent: str, context: Any, ref: Any, auth: Any) -> BuildResult:
            started = time.monotonic()
            result = original(parent, context, ref, auth)
            self.results.append((ref.project, result, time.monotonic() - started))
            return result

        builder.build_and_push = wrapped  # type: ignore[method-assign]


async def run(
    config: ImageConfig, client: docker.DockerClient, projects: list[str], changes: int
) -> Recorder:
    registry = RegistryClient(f"http://{config.registry}")
    builder = ImageBuilder(client, registry, network_mode=config.network_mode)
    recorder = Recorder(builder)
    directory = ProjectDirectory()
    for pid, name in enumerate(projects, start=1):
        directory.set(pid, name)
    service = ImageService(config, builder, directory, MemoryImageStore(), AnonymousCredentials())
    queue = BuildQueue(service.handle, max_parallel=config.max_parallel_builds)
    for pid, _ in enumerate(projects, start=1):
        for n in range(changes):
            command = CondaCommand(
                id=n + 1,
                project_id=pid,
                op="INSTALL",
                status="ONGOING",
                lib=f"hhbench{n}",
                version="1.0",
                created=int(time.time() * 1000),
            )
            queue.submit(Job(command.id, pid, Action.BUILD, command))
    await queue.join()
    return recorder


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=3, help="library changes per project")
    parser.add_argument("--projects", type=int, default=6, help="projects building at once")
    parser.add_argument(
        "--parallel", type=int, default=0, help="max_parallel_builds for the crowd (default: --projects)"
    )
    parser.add_argument("--payload-mb", type=float, default=2.0, help="incompressible MB in each wheel")
    args = parser.parse_args()
    stack = Stack(env=_read_env_file(STACK_ENV))
    client = docker.DockerClient(base_url=stack.docker_host, timeout=1800)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        for n in range(args.changes):
            make_wheel(wheels, f"hhbench{n}", "1.0", payload_bytes=int(args.payload_mb * 1_000_000))
        server, url = serve(wheels)
        run_id = uuid.uuid4().hex[:6]
        base = ImageConfig(
            docker_host=stack.docker_host,
            registry=f"127.0.0.1:{stack.port('registry')}",
            base_image=stack.env["BASE_IMAGE"],
            pip_args=f"--no-index --find-links {url}",
            network_mode="host",
            anonymous_push=True,
            retry_attempts=1,
        )
        walls: dict[str, float] = {}
        try:
            # Warm-up (not counted): the first build after a while pays for cold caches.
            warm = asyncio.run(run(base, client, [f"bench{run_id}warm"], 1))
            started = time.monotonic()
            alone = asyncio.run(
                run(
                    base.model_copy(update={"max_parallel_builds": 1}),
                    client,
                    [f"bench{run_id}solo"],
                    args.changes,
                )
            )
            walls["1 project"] = time.monotonic() - started
            many = [f"bench{run_id}p{i}" for i in range(args.projects)]
            started = time.monotonic()
            crowd = asyncio.run(
                run(
                    base.model_copy(update={"max_parallel_builds": args.parallel or args.projects}),
                    client,
                    many,
                    args.changes,
                )
            )
            walls[f"{args.projects} projects"] = time.monotonic() - started
        finally:
            server.shutdown()
        print(f"# bytes pushed per library change (payload {args.payload_mb} MB incompressible, 1 project)")
        print(f"{'change':>6} {'pushed':>12} {'new layer':>12} {'ratio':>6} {'image (all layers)':>19}")
        registry = RegistryClient(f"http://{base.registry}")
        ratios = []
        for n, (_, result, _) in enumerate(alone.results):
            name, tag = result.ref.rsplit(":", 1)
            manifest = registry.manifest(name.split("/", 1)[1], tag)
            image = manifest.size if manifest else 0
            ratio = result.pushed_bytes / result.new_layer_bytes if result.new_layer_bytes else float("nan")
            if result.pushed_bytes:
                ratios.append(ratio)
            else:  # an identical layer was already in the registry (docker mounted it): nothing sent
                ratio = float("nan")
            sizes = f"{result.pushed_bytes:>12,} {result.new_layer_bytes:>12,}"
            print(f"{n + 1:>6} {sizes} {ratio:>6.3f} {image:>19,}")
        mounted = len(alone.results) - len(ratios)
        print(
            f"median ratio pushed/new layer: {statistics.median(ratios) if ratios else float('nan'):.3f}x"
            f" (target <= 1.1x; {mounted} change(s) sent nothing: layer already in the registry)"
        )
        print()
        print(f"# duration per library change (build + push), 1 project vs {args.projects} at once")
        print(f"{'':>10} {'n':>3} {'median s':>9} {'p90 s':>7} {'push med':>9} {'push p90':>9} {'wall s':>7}")
        rows: dict[str, float] = {}
        push_rows: dict[str, float] = {}
        for label, rec in (("1 project", alone), (f"{args.projects} projects", crowd)):
            total = [seconds for _, _, seconds in rec.results]
            push = [result.push_seconds for _, result, _ in rec.results]
            rows[label] = pct(total, 0.9)
            push_rows[label] = pct(push, 0.9)
            print(
                f"{label:>10} {len(total):>3} {statistics.median(total):>9.1f} {pct(total, 0.9):>7.1f} "
                f"{statistics.median(push):>9.2f} {pct(push, 0.9):>9.2f} {walls[label]:>7.1f}"
            )
        one, crowd_p90 = rows.values()
        push_one, push_crowd = push_rows.values()
        print(
            f"p90 ratio {args.projects} projects (max {args.parallel or args.projects} building) / 1 project:"
            f" build+push {crowd_p90 / one:.2f}x, push alone {push_crowd / push_one:.2f}x (target <= 2x)"
        )
        for rec in (warm, alone, crowd):
            for _, result, _ in rec.results:
                try:
                    client.images.remove(result.ref, force=True)
                except docker.errors.ImageNotFound:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
