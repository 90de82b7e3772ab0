"""Environment images: each successful library change of a Hopsworks project becomes an image.

Follows `conda_commands` (lifecycle.follow), queues builds per project in command order
(buildqueue.BuildQueue), builds FROM the project's current image with the Docker engine and
pushes with the project's push robot (builder.ImageBuilder via service.ImageService), and
deletes the environment repositories when the project goes. Faust wiring: agent.py
(`register_image_agents`); CLI: cli.py (`hopsharbor base-image build|push`).
"""

from streams.images.builder import BuildResult, ImageBuilder
from streams.images.buildqueue import BuildQueue, Job
from streams.images.commands import CondaCommand, CondaOp, CondaStatus
from streams.images.config import ImageConfig
from streams.images.credentials import AnonymousCredentials, CredentialSource, RobotCredentials
from streams.images.errors import BuildFailed, ImageError, RetriableImageError, TerminalImageError
from streams.images.lifecycle import Action, Decision, follow
from streams.images.naming import ImageRef, image_ref
from streams.images.projects import ProjectDirectory
from streams.images.registry import RegistryAuth, RegistryClient
from streams.images.service import ImageService
from streams.images.state import ImageRecord, ImageStateStore, MemoryImageStore

__all__ = [
    "Action",
    "AnonymousCredentials",
    "BuildFailed",
    "BuildQueue",
    "BuildResult",
    "CondaCommand",
    "CondaOp",
    "CondaStatus",
    "CredentialSource",
    "Decision",
    "ImageBuilder",
    "ImageConfig",
    "ImageError",
    "ImageRecord",
    "ImageRef",
    "ImageService",
    "ImageStateStore",
    "Job",
    "MemoryImageStore",
    "ProjectDirectory",
    "RegistryAuth",
    "RegistryClient",
    "RetriableImageError",
    "RobotCredentials",
    "TerminalImageError",
    "follow",
    "image_ref",
]
