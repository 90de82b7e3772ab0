"""From Hopsworks change events to the desired state of Harbor. Pure: no Kafka, no Harbor, no clock.

- `events`: parse one Debezium envelope (`parse_change_event`), `MalformedEvent` for anything else.
- `rows`: the few columns of `users`, `project` and `project_team` that matter.
- `config`: `MappingConfig`, the role map, name map, default quota, robots and service accounts.
- `derive`: one user row / one project with its team -> `UserState` / `ProjectState`, and
  `derive_all` (the whole desired state from final tables, used by tests and tools).
- `mirror`: `Mirror`, the incremental bookkeeping the ingest agent runs per event over mutable
  mappings (Faust tables in the worker, dicts in tests): it returns the keys whose desired state changed.
"""

from streams.mapping.config import DEFAULT_ROBOTS, DEFAULT_ROLE_MAP, MappingConfig
from streams.mapping.derive import (
    PENDING,
    Pending,
    derive_all,
    derive_project,
    derive_user,
    project_key,
    user_key,
)
from streams.mapping.events import CDC_TABLES, ChangeEvent, MalformedEvent, parse_change_event, table_of_topic
from streams.mapping.mirror import Emission, Mirror, MirrorTables
from streams.mapping.rows import ProjectRow, TeamRow, UserRow

__all__ = [
    "CDC_TABLES",
    "DEFAULT_ROBOTS",
    "DEFAULT_ROLE_MAP",
    "PENDING",
    "ChangeEvent",
    "Emission",
    "MalformedEvent",
    "MappingConfig",
    "Mirror",
    "MirrorTables",
    "Pending",
    "ProjectRow",
    "TeamRow",
    "UserRow",
    "derive_all",
    "derive_project",
    "derive_user",
    "parse_change_event",
    "project_key",
    "table_of_topic",
    "user_key",
]
