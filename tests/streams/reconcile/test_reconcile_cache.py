"""ObservedCache: packed entries come back equal, expire after the TTL, stay within max_keys."""

from __future__ import annotations

import pytest

from streams.harbor.models import ImmutableRule, Member, Project, Quota, Repository, Robot, User
from streams.reconcile.cache import ObservedCache
from streams.reconcile.observe import ObservedProject, ObservedRobot, ObservedUser

pytestmark = pytest.mark.unit

PERMS = [
    {
        "kind": "project",
        "namespace": "p",
        "access": [{"resource": "repository", "action": "pull", "effect": "allow"}],
    }
]


def sample() -> ObservedProject:
    return ObservedProject(
        project=Project(project_id=3, name="p", owner_id=1, owner_name="admin"),
        owned=True,
        detailed=True,
        members=(
            Member(id=1, entity_name="admin", role_id=1),
            Member(id=2, entity_name="devs", entity_type="g", role_id=2),
        ),
        robots=(
            ObservedRobot(
                Robot.model_validate({"id": 9, "name": "robot$p+pull", "permissions": PERMS}), "pull", "ok"
            ),
        ),
        quota=Quota(id=4, hard={"storage": 100}),
        repositories=(Repository(name="p/a"),),
        immutable_rules=(ImmutableRule(id=7),),
    )


def test_round_trip_ttl_and_bound():
    now = [0.0]
    cache = ObservedCache(ttl=10, max_keys=2, clock=lambda: now[0])
    cache.put("project/p", sample())
    cache.put("user/u", ObservedUser(User(user_id=5, username="u", email="u@x", realname="U", comment="c")))
    cache.put("user/gone", ObservedUser(None))  # the oldest entry ("project/p") is dropped
    assert cache.get("project/p") is None
    assert cache.get("user/u") == ObservedUser(
        User(user_id=5, username="u", email="u@x", realname="U", comment="c")
    )
    assert cache.get("user/gone") == ObservedUser(None)
    cache.put("project/p", sample())
    assert cache.get("project/p") == sample()
    now[0] = 10
    assert cache.get("project/p") is None and len(cache) == 1


def test_nothing_is_kept_when_off():
    cache = ObservedCache(ttl=0, max_keys=5, clock=lambda: 0.0)
    cache.put("project/p", sample())
    assert len(cache) == 0
