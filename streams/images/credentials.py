"""Whose credentials push a project's images: the project's push robot, from the SecretStore.

The reconciler (streams.reconcile) chooses each robot's secret and stores it under
`<project>+<robot>`; Harbor knows the robot as `robot$<project>+<robot>`. Called by the build
service before each build. No secret yet (the reconciler has not made the robot) raises
RetriableImageError("no_credentials"): the project's queue waits and tries again.
"""

from __future__ import annotations

from typing import Protocol

from streams.images.errors import RetriableImageError
from streams.images.registry import RegistryAuth
from streams.secrets.base import SecretStore

__all__ = ["CredentialSource", "RobotCredentials", "AnonymousCredentials"]


class CredentialSource(Protocol):
    def push_auth(self, project: str) -> RegistryAuth | None: ...


class RobotCredentials:
    def __init__(self, secrets: SecretStore, robot: str = "push", prefix: str = "robot$") -> None:
        self.secrets = secrets
        self.robot = robot
        self.prefix = prefix

    def push_auth(self, project: str) -> RegistryAuth | None:
        secret = self.secrets.get(f"{project}+{self.robot}")
        if secret is None:
            raise RetriableImageError("no_credentials", f"no secret for robot {project}+{self.robot} yet")
        return RegistryAuth(f"{self.prefix}{project}+{self.robot}", secret)


class AnonymousCredentials:
    """A registry without authentication (the plain local registry in tests)."""

    def push_auth(self, project: str) -> RegistryAuth | None:
        return None
