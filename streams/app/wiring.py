"""Build the real Reconciler (engineer R's Harbor client, reconciler and secret store) from settings.

Called by the `worker`, `reconcile` and `replay` commands; the only place streams.app imports them.
"""

from __future__ import annotations

from typing import Any

from streams.settings import Settings

__all__ = ["build_reconciler"]


def build_reconciler(settings: Settings, observer: Any | None = None) -> tuple[Any, Any]:
    """Returns (reconciler, client); the caller closes the client (`await client.aclose()`).
    Raises ValueError when no Harbor password is configured."""
    from streams.harbor import HarborClient
    from streams.reconcile import ReconcileConfig, Reconciler
    from streams.secrets import DirectorySecretStore

    client = HarborClient(
        settings.harbor_url,
        settings.harbor_user,
        settings.harbor_secret(),
        timeout=settings.harbor_timeout,
        retries=settings.harbor_retries,
        metrics=observer,
    )
    config = ReconcileConfig(
        owner_account=settings.owner_account or settings.harbor_user,
        adopted_projects=frozenset(settings.adopted_projects),
        db_auth=settings.db_auth,
        delete_users=settings.delete_users,
        cache_ttl=settings.cache_ttl,
    )
    return Reconciler(client, config, DirectorySecretStore(settings.robot_secrets_dir)), client
