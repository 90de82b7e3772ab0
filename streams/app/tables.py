"""The worker's working tables (Faust tables, changelogged to Kafka). Declarations only.

Why Faust tables and not the compacted state topic: the state topic holds *derived* states, and a
derived state forgets what is needed to derive the next one (a blocked user's memberships, an
'Under removal' row, a member whose user has not arrived yet). The tables keep the rows
themselves, keyed as streams.mapping.mirror describes; each is recovered from its changelog on
start. Values are plain JSON and are always re-assigned, never mutated in place, so every change
reaches the changelog. `use_partitioner`: the tables are read across keys (a user's projects) and
one key is written from events of several topics, so a key's changelog partition must follow the
key, not the event (else two partitions could hold versions of one key and recovery could pick the
older); one worker holds every partition. Unit tests, which have no producer to ask for a key's
partition, pass partitioner=False (the changelog partition is then the event's).
"""

from __future__ import annotations

import faust

from streams.mapping import MirrorTables
from streams.settings import Settings

__all__ = ["TABLES", "declare_tables"]

TABLES: dict[str, str] = {
    "users": "Hopsworks users rows by email",
    "projects": "Hopsworks project rows by project id",
    "teams": "project id -> {member email: team_role}",
    "memberships": "email -> project ids where the user is owner or member",
    "desired": "StateKey -> JSON of the desired state (the state topic's current view)",
}


def declare_tables(app: faust.App, settings: Settings, *, partitioner: bool = True) -> MirrorTables:
    def table(name: str) -> faust.Table:
        return app.Table(
            name,
            key_type=str,
            value_type=None,
            partitions=settings.topic_partitions,
            use_partitioner=partitioner,
            help=TABLES[name],
        )

    return MirrorTables(**{name: table(name) for name in TABLES})
