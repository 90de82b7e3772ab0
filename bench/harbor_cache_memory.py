"""Memory of the reconciler's observed cache: RSS before and after filling it with N projects.

    .venv/bin/python bench/harbor_cache_memory.py [--projects 10000] [--members 6]

Each entry is what a converged project looks like to the reconciler (members, 2 robots with
permissions, quota), built the way observed_after builds it. Prints RSS growth and bytes per key,
to size ReconcileConfig.cache_max_keys against the worker's memory target.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.harbor.client import robot_permissions  # noqa: E402
from streams.harbor.models import Member, Project, Quota, Robot, RobotPermission  # noqa: E402
from streams.reconcile.cache import ObservedCache  # noqa: E402
from streams.reconcile.observe import ObservedProject, ObservedRobot  # noqa: E402


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def entry(i: int, members: int) -> ObservedProject:
    name = f"project{i:06d}"
    robots = tuple(
        ObservedRobot(
            Robot(
                id=i * 10 + k,
                name=f"robot${name}+{short}",
                permissions=tuple(
                    RobotPermission.model_validate(p) for p in robot_permissions(name, actions)
                ),
            ),
            short,
            "ok",
        )
        for k, (short, actions) in enumerate((("pull", ("pull",)), ("push", ("pull", "push"))))
    )
    return ObservedProject(
        project=Project(project_id=i, name=name, owner_name="admin"),
        owned=True,
        detailed=True,
        members=tuple(
            Member(id=i * 100 + m, entity_name=f"user{i % 5000:05d}{m}", role_id=1 + m % 4)
            for m in range(members)
        ),
        robots=robots,
        quota=Quota(id=i, hard={"storage": 2**30}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=6)
    args = parser.parse_args()
    cache = ObservedCache(ttl=3600, max_keys=args.projects, clock=lambda: 0.0)
    gc.collect()
    before = rss_kib()
    for i in range(args.projects):
        cache.put(f"project/project{i:06d}", entry(i, args.members))
    gc.collect()
    after = rss_kib()
    grown = (after - before) * 1024
    print(
        f"{args.projects} cached projects x {args.members} members + 2 robots: "
        f"RSS {before / 1024:.1f} MiB -> "
        f"{after / 1024:.1f} MiB (+{grown / 2**20:.1f} MiB, {grown / args.projects / 1024:.1f} KiB per key)"
    )


if __name__ == "__main__":
    main()
