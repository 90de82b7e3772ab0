"""Desired state: what Harbor must look like, derived from the Hopsworks tables.

The records here are the values of the compacted state topic (key = `StateKey.encode()`,
a tombstone = the resource must be absent). The Faust agents (streams/app) produce them from
change events; the reconciler (streams/reconcile) compares them with Harbor and applies the difference.
"""

from streams.desired.model import (
    ProjectState,
    ResourceKind,
    RobotState,
    StateKey,
    UserState,
)

__all__ = ["ProjectState", "ResourceKind", "RobotState", "StateKey", "UserState"]
