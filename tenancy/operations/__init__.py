"""Operator operations on one tenant: move its database, restore it from an
export, drop an old database, delete the tenant.

All are safe by default: destructive steps check first, write to a staging
place or make a backup, then switch; on failure the tenant stays as it was
and the report says what was kept.

- ``report``: :class:`OperationReport`, the step-by-step report they return;
- ``maintenance``: maintenance for an operation and the wait for other
  servers' caches;
- ``relocation``: move and restore (one switch of the tenant record);
- ``deletion``: drop an old database, delete a tenant (backup first).
"""

from tenancy.operations.deletion import delete_tenant, drop_old_database
from tenancy.operations.relocation import move_tenant, restore_tenant
from tenancy.operations.report import OperationReport, Step

__all__ = [
    "OperationReport",
    "Step",
    "delete_tenant",
    "drop_old_database",
    "move_tenant",
    "restore_tenant",
]
