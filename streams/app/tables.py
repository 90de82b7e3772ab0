"""The worker's working tables (Faust tables, changelogged to Kafka). Declarations only.

Why Faust tables and not the compacted state topic: the state topic holds *derived* states, and a
derived state forgets what is needed to derive the next one (a blocked user's memberships, an
'Under removal' row, a member whose user has not arrived yet). The tables keep the rows
themselves, keyed as streams.mapping.mirror describes; each is recovered from its changelog on
start. Values are plain JSON and are always re-assigned, never mutated in place, so every change
reaches the changelog.

Changelog partitions follow the key, not the event: one key is written from events of several
topics (memberships from users, project and project_team events), and if its versions were spread
over partitions, recovery could end with an older one. Faust's own `use_partitioner` asks the
producer, which fails while it has no metadata for a changelog topic created a moment ago, so
KeyPartitionedTable computes the partition itself (crc32 of the key). One worker holds every
partition (the tables are read across keys).
"""

from __future__ import annotations

import zlib
from typing import Any

import faust

from streams.mapping import MirrorTables
from streams.settings import Settings

__all__ = ["TABLES", "KeyPartitionedTable", "declare_tables"]

TABLES: dict[str, str] = {
    "users": "Hopsworks users rows by email",
    "projects": "Hopsworks project rows by project id",
    "teams": "project id -> {member email: team_role}",
    "memberships": "email -> project ids where the user is owner or member",
    "desired": "StateKey -> JSON of the desired state (the state topic's current view)",
}


class KeyPartitionedTable(faust.Table):
    """A Faust table whose changelog partition is crc32(key) mod partitions (see the module docstring)."""

    def partition_for_key(self, key: Any) -> int:
        partitions = self.partitions or self.app.conf.topic_partitions
        return zlib.crc32(str(key).encode()) % partitions


def declare_tables(app: faust.App, settings: Settings) -> MirrorTables:
    def table(name: str) -> faust.Table:
        return app.tables.add(  # type: ignore[return-value]
            KeyPartitionedTable(
                app,
                name=name,
                key_type=str,
                value_type=None,
                partitions=settings.topic_partitions,
                use_partitioner=True,
                beacon=app.tables.beacon,
                help=TABLES[name],
            )
        )

    return MirrorTables(**{name: table(name) for name in TABLES})
