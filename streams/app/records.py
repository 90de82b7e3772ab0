"""Records the worker writes besides the desired state. Declarations only.

- `Origin`: why a key was reconciled (an event's topic/partition/offset and commit time, or the
  resync); carried in the `hopsharbor-origin` header of state-topic records so the reconcile
  agent can measure end-to-end latency and name the event in a dead letter.
- `DeadLetter`: the value of a dead-letter-topic record (JSON).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["DeadLetter", "ORIGIN_HEADER", "Origin"]

ORIGIN_HEADER = "hopsharbor-origin"


class Origin(BaseModel):
    model_config = ConfigDict(frozen=True)

    cause: Literal["event", "resync", "start", "cli"] = "event"
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    source_ts_ms: int | None = None  # database commit time of the event


class DeadLetter(BaseModel):
    """stage "ingest": a CDC record that could not be parsed (raw_key/raw_value: base64 of the
    original bytes); stage "reconcile": a key Harbor refused for good (desired: the state asked for)."""

    model_config = ConfigDict(frozen=True)

    stage: Literal["ingest", "reconcile"]
    reason: str
    error: str
    key: str | None = None
    desired: Any = None
    origin: Origin | None = None
    raw_key: str | None = None
    raw_value: str | None = None
    at: float = 0.0  # unix time the record was written
