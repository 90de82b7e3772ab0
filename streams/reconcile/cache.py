"""ObservedCache: what Harbor held for a key after its last reconcile, for a bounded time.

Why: a level-triggered reconcile reads the whole key (project, members, robots, quota: 4+ GETs)
before every change, which costs far more Harbor calls than the change itself. With the cache
(config.cache_ttl > 0) the reconciler trusts what it observed and wrote itself, for cache_ttl
seconds: a change then costs only its writes, and an unchanged desired state costs no call.
The trade: a change made by hand in Harbor is only seen when the entry expires or when the
caller asks for a fresh reconcile (the periodic resync does). Any error drops the entry, so a
stale entry that makes a write fail (404, 409) heals on the next, fresh, reconcile.

Used by the Reconciler only; `observed_after` is pure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from sys import intern
from typing import Any

from streams.desired.model import ProjectState, UserState
from streams.harbor.client import robot_permissions
from streams.harbor.models import (
    ImmutableRule,
    Member,
    Outcome,
    Project,
    Quota,
    Repository,
    Robot,
    RobotAccess,
    RobotPermission,
    User,
)
from streams.reconcile.actions import ActionResult
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.observe import ObservedProject, ObservedRobot, ObservedUser

__all__ = ["ObservedCache", "observed_after", "Observed", "UNKNOWN_ID"]

Observed = ObservedProject | ObservedUser
UNKNOWN_ID = -1  # an object Harbor has, whose id hopsharbor was not told


class ObservedCache:
    """At most `max_keys` entries (least recently used dropped first), each valid `ttl` seconds."""

    def __init__(self, ttl: float, max_keys: int, clock: Callable[[], float]) -> None:
        self.ttl, self.max_keys, self.clock = ttl, max_keys, clock
        # entries are packed into plain tuples: a pydantic record costs ~0.5 KiB, and 10,000
        # projects of records took 100 MiB (bench/harbor_cache_memory.py)
        self._entries: OrderedDict[str, tuple[float, tuple[Any, ...]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Observed | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry[0] >= self.ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return _unpack(entry[1])

    def put(self, key: str, observed: Observed | None) -> None:
        if self.ttl <= 0 or observed is None:
            self.drop(key)
            return
        self._entries[key] = (self.clock(), _pack(observed))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def _pack(observed: Observed) -> tuple[Any, ...]:
    if isinstance(observed, ObservedUser):
        u = observed.user
        return ("user", None if u is None else (u.user_id, u.username, u.email, u.realname, u.comment))
    p, q = observed.project, observed.quota
    return (
        "project",
        None if p is None else (p.project_id, p.name, p.owner_id, p.owner_name),
        observed.owned,
        observed.detailed,
        tuple(
            (intern(m.entity_name), m.id, m.role_id, m.entity_type, m.project_id) for m in observed.members
        ),
        tuple(
            (
                r.robot.id,
                r.robot.name,
                r.short_name,
                r.secret,
                r.robot.disable,
                r.robot.duration,
                r.robot.description,
                r.robot.level,
                r.robot.editable,
                tuple(
                    (perm.kind, perm.namespace, tuple((a.resource, a.action, a.effect) for a in perm.access))
                    for perm in r.robot.permissions
                ),
            )
            for r in observed.robots
        ),
        None if q is None else (q.id, tuple(q.hard.items())),
        tuple(r.name for r in observed.repositories),
        tuple(r.id for r in observed.immutable_rules),
    )


def _unpack(packed: tuple[Any, ...]) -> Observed:
    if packed[0] == "user":
        u = packed[1]
        if u is None:
            return ObservedUser(None)
        return ObservedUser(User(user_id=u[0], username=u[1], email=u[2], realname=u[3], comment=u[4]))
    _, p, owned, detailed, members, robots, quota, repositories, rules = packed
    return ObservedProject(
        project=None if p is None else Project(project_id=p[0], name=p[1], owner_id=p[2], owner_name=p[3]),
        owned=owned,
        detailed=detailed,
        members=tuple(
            Member(entity_name=m[0], id=m[1], role_id=m[2], entity_type=m[3], project_id=m[4])
            for m in members
        ),
        robots=tuple(
            ObservedRobot(
                Robot(
                    id=r[0],
                    name=r[1],
                    disable=r[4],
                    duration=r[5],
                    description=r[6],
                    level=r[7],
                    editable=r[8],
                    permissions=tuple(
                        RobotPermission(
                            kind=kind,
                            namespace=ns,
                            access=tuple(
                                RobotAccess(resource=a[0], action=a[1], effect=a[2]) for a in access
                            ),
                        )
                        for kind, ns, access in r[9]
                    ),
                ),
                r[2],
                r[3],
            )
            for r in robots
        ),
        quota=None if quota is None else Quota(id=quota[0], hard=dict(quota[1])),
        repositories=tuple(Repository(name=name) for name in repositories),
        immutable_rules=tuple(ImmutableRule(id=i) for i in rules),
    )


def observed_after(
    observed: Observed,
    results: Iterable[ActionResult],
    desired: UserState | ProjectState | None,
    config: ReconcileConfig,
    *,
    created_quota: Quota | None = None,
) -> Observed | None:
    """What Harbor holds once `results` were applied to `observed`; None when that is not known
    for sure (an action waits, Harbor did not tell the id of something it created, …)."""
    results = list(results)
    if any(r.outcome is None for r in results):
        return None
    if isinstance(observed, ObservedUser):
        return _user_after(observed, results, desired)
    return _project_after(observed, results, desired, config, created_quota)


def _user_after(observed: ObservedUser, results: list[ActionResult], desired: object) -> ObservedUser | None:
    user = observed.user
    for r in results:
        if r.action.kind == "delete":
            user = None
        elif isinstance(desired, UserState):
            if r.action.kind == "create":
                if r.ref is None or r.outcome is not Outcome.CREATED:
                    return None
                user = User(
                    user_id=r.ref,
                    username=desired.username,
                    email=desired.email,
                    realname=desired.realname or desired.username,
                )
            elif user is not None:
                user = user.model_copy(
                    update={"email": desired.email, "realname": desired.realname or desired.username}
                )
    return ObservedUser(user)


def _project_after(
    observed: ObservedProject,
    results: list[ActionResult],
    desired: object,
    config: ReconcileConfig,
    created_quota: Quota | None,
) -> ObservedProject | None:
    if not isinstance(desired, ProjectState):
        deleted = any(r.action.resource == "project" and r.action.kind == "delete" for r in results)
        return ObservedProject(project=None) if deleted or observed.project is None else None
    project, quota = observed.project, observed.quota
    members = {m.entity_name: m for m in observed.members}
    robots = {r.short_name: r for r in observed.robots}
    for r in results:
        a = r.action
        if (a.kind, a.resource) == ("create", "project"):
            if r.ref is None:
                return None
            # Harbor made the quota (storage_limit) and the creator's membership, but did not say
            # their ids: UNKNOWN_ID makes the reconciler read Harbor before it would use one
            project = Project(project_id=r.ref, name=desired.name, owner_name=config.owner_account)
            quota = created_quota or Quota(id=UNKNOWN_ID, hard={"storage": desired.storage_limit})
            members = {
                config.owner_account: Member(id=UNKNOWN_ID, entity_name=config.owner_account, role_id=1)
            }
        elif a.resource == "quota" and quota is not None:
            quota = quota.model_copy(update={"hard": {**quota.hard, "storage": a.value}})
        elif a.resource == "member":
            if a.kind == "delete":
                members.pop(a.name, None)
            elif a.kind == "create":
                if r.ref is None:
                    return None
                members[a.name] = Member(id=r.ref, entity_name=a.name, role_id=int(str(a.value)))
            else:
                members[a.name] = members[a.name].model_copy(update={"role_id": a.value})
        elif a.resource == "robot" and a.kind == "delete":
            robots.pop(a.name, None)
        elif a.resource == "robot":
            actions = tuple(str(x) for x in a.value) if isinstance(a.value, tuple) else ()
            perms = tuple(RobotPermission.model_validate(p) for p in robot_permissions(desired.name, actions))
            if a.kind == "create":
                if r.ref is None:
                    return None
                robot = Robot(
                    id=r.ref, name=f"{config.robot_prefix}{desired.name}+{a.name}", permissions=perms
                )
                robots[a.name] = ObservedRobot(robot, a.name, "ok")
            else:
                seen = robots[a.name]
                robots[a.name] = ObservedRobot(
                    seen.robot.model_copy(update={"permissions": perms, "disable": False}),
                    a.name,
                    seen.secret,
                )
        elif a.resource == "robot_secret":
            robots[a.name] = ObservedRobot(robots[a.name].robot, a.name, "ok")
    return ObservedProject(
        project=project,
        owned=True,
        members=tuple(members.values()),
        robots=tuple(robots.values()),
        quota=quota,
        detailed=True,
    )
