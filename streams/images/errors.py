"""Errors of the environment-image pipeline; the one place that decides retriable vs terminal.

    ImageError                     root: anything streams.images raises
    ├── RetriableImageError        try the same command again later (dockerd or registry
    │                              unreachable, registry 5xx); the project's queue waits
    └── TerminalImageError         the same command fails the same way again: dead-letter it,
          │                        count it, and go on with the project's next command
          ├── BuildFailed          the Dockerfile step failed (unknown library, no index ...);
          │                        carries the tail of the build log
          └── (reasons) "denied", "unknown_project", "unsupported_op", "bad_command", "bad_name"

`reason` is a short word from a bounded set (safe as a metric label); `message` is for humans.
docker and httpx errors are translated into these at their call sites (builder.py, registry.py)
and nowhere else.
"""

from __future__ import annotations

__all__ = [
    "ImageError",
    "RetriableImageError",
    "TerminalImageError",
    "BuildFailed",
    "TERMINAL_REASONS",
    "RETRIABLE_REASONS",
]

TERMINAL_REASONS: tuple[str, ...] = (
    "build_failed",
    "denied",
    "unknown_project",
    "unsupported_op",
    "bad_command",
    "bad_name",
)
RETRIABLE_REASONS: tuple[str, ...] = (
    "docker_unreachable",
    "registry_unreachable",
    "registry_error",
    "timeout",
    "no_credentials",  # the reconciler has not made the push robot yet
)


class ImageError(Exception):
    """Root of every error raised by streams.images."""

    retriable: bool = False

    def __init__(self, reason: str, message: str, *, log_tail: str = "") -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.log_tail = log_tail


class RetriableImageError(ImageError):
    """Transient: dockerd or the registry did not answer properly. Back off and retry."""

    retriable = True


class TerminalImageError(ImageError):
    """Permanent for this command: retrying gives the same answer. Dead-letter and move on."""


class BuildFailed(TerminalImageError):
    """`docker build` reported an error (a RUN step exited non-zero, a bad FROM, ...)."""

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__("build_failed", message, log_tail=log_tail)
