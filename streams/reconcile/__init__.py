"""Level-triggered reconciliation of one key against Harbor: observe, diff (pure), apply in order.

Public surface: Reconciler, ReconcileConfig, ReconcileResult, Action, ActionResult, and
diff_project / diff_user / format_plan for tests and the dry-run.
"""

from streams.reconcile.actions import Action, ActionResult, ReconcileResult
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.diff import diff_project, diff_user
from streams.reconcile.plan import format_plan, ordered
from streams.reconcile.reconciler import Reconciler

__all__ = [
    "Reconciler",
    "ReconcileConfig",
    "ReconcileResult",
    "Action",
    "ActionResult",
    "diff_project",
    "diff_user",
    "format_plan",
    "ordered",
]
