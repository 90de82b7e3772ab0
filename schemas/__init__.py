"""Data definitions shared by the connector and the stream processor.

- `hopsworks.sql`: the Hopsworks tables hopsharbor follows (MariaDB/InnoDB flavour of hopsworks-chef's DDL).
- `change_event.schema.json`: the JSON Schema of the Debezium-style change events the connector publishes.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["hopsworks_ddl", "change_event_schema"]


def hopsworks_ddl() -> list[str]:
    """The CREATE TABLE statements of schemas/hopsworks.sql, one string per statement."""
    text = resources.files(__package__).joinpath("hopsworks.sql").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def change_event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one change-event value."""
    return json.loads(resources.files(__package__).joinpath("change_event.schema.json").read_text())
