"""HarborClient.ensure_* against the stateful MockTransport Harbor: each returns what it did and
writes nothing when Harbor already matches."""

from __future__ import annotations

import pytest

from streams.harbor import Outcome

pytestmark = pytest.mark.unit


async def test_ensure_user(fake_harbor, harbor_client):
    args = dict(password="Aa1" + "x" * 10, comment="managed by hopsharbor")
    assert await harbor_client.ensure_user("jo", "jo@example.com", "Jo", **args) == Outcome.CREATED
    writes = len(fake_harbor.writes)
    assert await harbor_client.ensure_user("jo", "jo@example.com", "Jo", **args) == Outcome.UNCHANGED
    assert len(fake_harbor.writes) == writes
    assert await harbor_client.ensure_user("jo", "jo@new.example.com", "Jo", **args) == Outcome.UPDATED


async def test_ensure_quota_robot_and_absent(fake_harbor, harbor_client):
    pid = fake_harbor.add_project("p1")
    assert await harbor_client.ensure_quota(pid, 10) == Outcome.UPDATED
    assert await harbor_client.ensure_quota(pid, 10) == Outcome.UNCHANGED

    secret = "Secret1" + "y" * 10
    assert await harbor_client.ensure_robot("p1", pid, "ci", ["pull"], secret) == Outcome.CREATED
    writes = len(fake_harbor.writes)
    assert await harbor_client.ensure_robot("p1", pid, "ci", ["pull"], secret) == Outcome.UNCHANGED
    assert len(fake_harbor.writes) == writes
    robot = fake_harbor.project_robots("p1")[0]
    robot["secret"] = "Other1secret"
    assert await harbor_client.ensure_robot("p1", pid, "ci", ["pull"], secret) == Outcome.UPDATED
    assert robot["secret"] == secret
    assert await harbor_client.ensure_robot("p1", pid, "ci", ["pull", "push"], secret) == Outcome.UPDATED
    assert len(fake_harbor.project_robots("p1")) == 1

    assert await harbor_client.ensure_member("p1", "admin", 1) == Outcome.UNCHANGED
    fake_harbor.add_user("kim")
    assert await harbor_client.ensure_member("p1", "kim", 2) == Outcome.CREATED
    assert await harbor_client.ensure_member_absent("p1", "kim") == Outcome.DELETED
    assert await harbor_client.ensure_member_absent("p1", "kim") == Outcome.UNCHANGED

    fake_harbor.repositories[pid] = ["p1/a", "p1/b/c"]
    fake_harbor.rules[pid] = [3]
    assert await harbor_client.ensure_project_absent("p1") == Outcome.DELETED
    assert await harbor_client.ensure_project_absent("p1") == Outcome.UNCHANGED
