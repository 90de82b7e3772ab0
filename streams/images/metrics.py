"""Metric objects of the environment-image pipeline (declarations only; registered at import).

Label values are initialised to 0 by ImageService when it starts (bounded sets: BUILD_RESULTS,
streams.images.errors.TERMINAL_REASONS).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BUILD_RESULTS",
    "IMAGE_BUILD_DURATION",
    "IMAGE_PUSH_DURATION",
    "IMAGE_PUSHED_BYTES",
    "IMAGE_BUILDS",
    "IMAGE_BUILD_QUEUE_DEPTH",
    "IMAGE_BUILD_FAILURES",
]

# built: built and pushed; exists: the tag was already in the registry (a replay);
# skipped: the project's image is already at or past this command; failed: dead-lettered.
BUILD_RESULTS: tuple[str, ...] = ("built", "exists", "skipped", "failed")

_SECONDS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)

IMAGE_BUILD_DURATION = Histogram(
    "hopsharbor_image_build_duration_seconds", "docker build of one library change", buckets=_SECONDS
)
IMAGE_PUSH_DURATION = Histogram(
    "hopsharbor_image_push_duration_seconds", "docker push of one environment image", buckets=_SECONDS
)
IMAGE_PUSHED_BYTES = Counter(
    "hopsharbor_image_pushed_bytes_total",
    "compressed bytes of blobs sent to the registry (layers already there excluded)",
)
IMAGE_BUILDS = Counter("hopsharbor_image_builds_total", "library changes handled, by result", ["result"])
IMAGE_BUILD_QUEUE_DEPTH = Gauge(
    "hopsharbor_image_build_queue_depth", "commands waiting to be built, all projects"
)
IMAGE_BUILD_FAILURES = Counter(
    "hopsharbor_image_build_failures_total",
    "commands dead-lettered by the image pipeline, by reason",
    ["reason"],
)
