"""Apply a planned list of actions to Harbor in the plan's order, in lanes.

Called by the Reconciler after the diff, inside its per-key lock. Actions run one after the
other, except that, once the project exists, the quota, the members and the robots are three
lanes (plan.LANES) that run beside each other; within a lane the order stays. Member changes
of a project are therefore still serialised (concurrent POSTs of one member can give 500).
Each handler maps one action to its Harbor write(s) and to an Outcome; races that only mean
"someone got there first" (409 on create, 404 on delete) are not errors. Handlers return None
when the action cannot be applied yet (a member whose user does not exist, a project that still
has repositories): the reconcile then ends with "requeue". Other HarborErrors propagate (the
other lanes are cancelled; what was written stays, and the next reconcile plans the rest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.desired.model import UserState
from streams.harbor import errors
from streams.harbor.client import HarborClient
from streams.harbor.models import Outcome, Robot, User
from streams.reconcile.actions import Action, ActionResult
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.observe import owns, robot_secret_name
from streams.reconcile.plan import LANES
from streams.secrets.base import SecretStore, generate_secret

__all__ = ["Applier"]

Applied = Outcome | None | tuple[Outcome, int | None]  # (outcome, id of what a create made)
Handler = Callable[["Applier", str, Action], Awaitable[Applied]]


@dataclass
class Applier:
    client: HarborClient
    config: ReconcileConfig
    secrets: SecretStore

    async def apply(self, scope: str, actions: list[Action]) -> list[ActionResult]:
        """Apply `actions` for the project or user called `scope`; results in the plan's order."""
        results: dict[int, ActionResult] = {}

        async def run(indexes: list[int]) -> None:
            for i in indexes:
                results[i] = await self._one(scope, actions[i])

        i = 0
        while i < len(actions):
            if LANES.get(actions[i].resource) is None:
                await run([i])
                i += 1
                continue
            end = i
            lanes: dict[str, list[int]] = {}
            while end < len(actions) and (lane := LANES.get(actions[end].resource)) is not None:
                lanes.setdefault(lane, []).append(end)
                end += 1
            tasks = [asyncio.create_task(run(indexes)) for indexes in lanes.values()]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            i = end
        return [results[i] for i in sorted(results)]

    async def _one(self, scope: str, action: Action) -> ActionResult:
        applied = await HANDLERS[(action.kind, action.resource)](self, scope, action)
        outcome, ref = applied if isinstance(applied, tuple) else (applied, None)
        return ActionResult(action, outcome, ref)

    # -- secrets ---------------------------------------------------------------------------------

    async def _secret_for(self, project: str, robot: str) -> str:
        """The stored secret, or a new one stored *before* Harbor hears of it (a crash in between
        leaves a stored secret that the next reconcile sets: never a secret nobody knows)."""
        name = robot_secret_name(project, robot)
        secret = self.secrets.get(name)
        if secret is None:
            secret = generate_secret(self.config.robot_secret_length)
            # a durable write (fsync) takes milliseconds: off the event loop
            await asyncio.to_thread(self.secrets.put, name, secret)
        return secret

    # -- users -----------------------------------------------------------------------------------

    async def create_user(self, scope: str, action: Action) -> Applied:
        desired = action.value
        assert isinstance(desired, UserState)
        # The password only satisfies Harbor (db_auth needs one); people sign in through Hopsworks'
        # credentials flow, so it is not kept anywhere.
        password = generate_secret(32)
        try:
            user_id = await self.client.create_user(
                desired.username,
                desired.email,
                desired.realname or desired.username,
                password,
                self.config.user_comment,
            )
        except errors.ConflictError as exc:
            if await self.client.find_user(desired.username) is None:  # the e-mail belongs to someone else
                raise errors.TerminalError(
                    "conflict", f"user {desired.username!r}: {exc.message}", status=409
                ) from exc
            return None  # created meanwhile: requeue to compare its profile
        return Outcome.CREATED, user_id

    async def update_user(self, scope: str, action: Action) -> Outcome | None:
        desired, current = action.value, action.current
        assert isinstance(desired, UserState) and isinstance(current, User) and action.ref is not None
        await self.client.update_user_profile(
            action.ref, desired.email, desired.realname or desired.username, current.comment or ""
        )
        return Outcome.UPDATED

    async def delete_user(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        return Outcome.DELETED if await self.client.delete_user(action.ref) else Outcome.UNCHANGED

    # -- projects --------------------------------------------------------------------------------

    async def create_project(self, scope: str, action: Action) -> Applied:
        try:
            project_id = await self.client.create_project(scope, _int(action))
        except errors.ConflictError as exc:
            project = await self.client.get_project(scope)
            if project is None:
                raise errors.RetriableError("conflict", f"project {scope!r}: 409 but not readable") from exc
            if not owns(project, self.config):
                raise errors.TerminalError(
                    "foreign_project",
                    f"project {scope!r} was created meanwhile by {project.owner_name!r}",
                    status=409,
                ) from exc
            return Outcome.UNCHANGED, project.project_id  # ours already (a retried POST, another worker)
        return Outcome.CREATED, project_id

    async def update_quota(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.update_quota(action.ref, _int(action))
        return Outcome.UPDATED

    async def delete_project(self, scope: str, action: Action) -> Outcome | None:
        try:
            deleted = await self.client.delete_project(scope)
        except errors.PreconditionFailedError:
            return None  # a repository appeared meanwhile (an image push): requeue and purge again
        for robot in _actions(action):
            await asyncio.to_thread(self.secrets.delete, robot_secret_name(scope, robot))
        return Outcome.DELETED if deleted else Outcome.UNCHANGED

    async def delete_repository(self, scope: str, action: Action) -> Outcome | None:
        await self.client.delete_repository(scope, action.name)
        return Outcome.DELETED

    async def delete_immutable_rule(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.delete_immutable_rule(scope, action.ref)
        return Outcome.DELETED

    # -- members ---------------------------------------------------------------------------------

    async def create_member(self, scope: str, action: Action) -> Applied:
        try:
            member_id = await self.client.add_member(scope, action.name, _int(action))
        except errors.NotFoundError:
            return None  # the user is not in Harbor yet: its own key creates it; requeue
        except errors.ConflictError:
            return None  # added meanwhile, maybe with another role: requeue to compare
        return Outcome.CREATED, member_id

    async def update_member(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.update_member(scope, action.ref, _int(action))
        return Outcome.UPDATED

    async def delete_member(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.delete_member(scope, action.ref)
        return Outcome.DELETED

    # -- robots ----------------------------------------------------------------------------------

    async def create_robot(self, scope: str, action: Action) -> Applied:
        secret = await self._secret_for(scope, action.name)
        try:
            robot_id, _, reported = await self.client.create_robot(
                scope,
                action.name,
                _actions(action),
                secret=secret,
                description="managed by hopsharbor",
            )
        except errors.ConflictError:
            return None  # created meanwhile (a retried POST): requeue; it is found, never duplicated
        if reported != secret:  # Harbor chose its own: set ours, so a restart can restore it
            await self.client.set_robot_secret(robot_id, secret)
        return Outcome.CREATED, robot_id

    async def update_robot(self, scope: str, action: Action) -> Outcome | None:
        assert isinstance(action.current, Robot)
        await self.client.update_robot(action.current, scope, _actions(action))
        return Outcome.UPDATED

    async def update_robot_secret(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.set_robot_secret(action.ref, await self._secret_for(scope, action.name))
        return Outcome.UPDATED

    async def delete_robot(self, scope: str, action: Action) -> Outcome | None:
        assert action.ref is not None
        await self.client.delete_robot(action.ref)
        await asyncio.to_thread(self.secrets.delete, robot_secret_name(scope, action.name))
        return Outcome.DELETED


def _int(action: Action) -> int:
    assert isinstance(action.value, int)
    return action.value


def _actions(action: Action) -> tuple[str, ...]:
    assert action.value is None or isinstance(action.value, tuple)
    return tuple(action.value or ())


HANDLERS: dict[tuple[str, str], Handler] = {
    ("create", "user"): Applier.create_user,
    ("update", "user"): Applier.update_user,
    ("delete", "user"): Applier.delete_user,
    ("create", "project"): Applier.create_project,
    ("update", "quota"): Applier.update_quota,
    ("delete", "project"): Applier.delete_project,
    ("delete", "repository"): Applier.delete_repository,
    ("delete", "immutable_rule"): Applier.delete_immutable_rule,
    ("create", "member"): Applier.create_member,
    ("update", "member"): Applier.update_member,
    ("delete", "member"): Applier.delete_member,
    ("create", "robot"): Applier.create_robot,
    ("update", "robot"): Applier.update_robot,
    ("update", "robot_secret"): Applier.update_robot_secret,
    ("delete", "robot"): Applier.delete_robot,
}
