"""ReconcileConfig: what the reconciler may do to Harbor. One frozen object, built by the caller
(the worker or the CLI, from the process settings) and passed to Reconciler."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ReconcileConfig"]


@dataclass(frozen=True)
class ReconcileConfig:
    """Ownership, user handling and timing rules of the reconciler.

    owner_account: hopsharbor's own Harbor account. Projects whose owner_name is this account are
        ours; its own membership in a project is never removed; it is never deleted as a user.
    adopted_projects: names of projects made by someone else that hopsharbor may take over.
        Any other existing project with a wanted name is a TerminalError("foreign_project").
    db_auth: Harbor authenticates against its database, so hopsharbor creates the users. False for
        LDAP/OIDC: users are never created, updated or deleted (Harbor onboards them itself).
    delete_users: when a user's desired state is absent (deleted in Hopsworks), delete the Harbor
        user too. Default False: the account stays but loses every membership, because each
        project's desired state no longer lists it; Harbor keeps its audit trail that way.
        Only users created by hopsharbor (comment == user_comment) are ever deleted.
    user_comment: the comment hopsharbor writes on the users it creates (Harbor allows 30 chars).
    robot_secret_length: length of the robot secrets hopsharbor chooses (8..128).
    robot_prefix: Harbor's robot name prefix (Harbor setting robot_name_prefix, default "robot$").
    verify_robot_secrets: on every reconcile, check each stored robot secret against Harbor's token
        service (one GET per robot) and set it again when someone changed it. False saves those
        calls; a secret changed by hand is then only restored when the stored one is missing.
    cache_ttl: seconds the reconciler trusts what it observed and wrote for a key (see cache.py);
        0 (default) reads Harbor on every reconcile. `reconcile(..., fresh=True)` always reads.
    cache_max_keys: bound of that cache (least recently used keys are dropped first).
    requeue_after: seconds after which a key should be reconciled again when it could not finish
        yet (a member whose user does not exist yet, a project that still has repositories).
    """

    owner_account: str
    adopted_projects: frozenset[str] = field(default_factory=frozenset)
    db_auth: bool = True
    robot_secret_length: int = 32
    delete_users: bool = False
    user_comment: str = "managed by hopsharbor"
    robot_prefix: str = "robot$"
    verify_robot_secrets: bool = True
    requeue_after: float = 5.0
    cache_ttl: float = 0.0
    cache_max_keys: int = 10_000
