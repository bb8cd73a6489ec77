"""One helper for the audit entries of the tenant admins' catalog mutations.

Services, locations, discount codes and staff members live in the tenant
database; their mutations record who changed what in the platform audit log
(``PlatformStore.append_audit``): the caller, the tenant, the action
(``service.update``...), the target (``service:<id>``) and the changed fields
with before and after values (``tenancy.audit.field_changes``: secrets
redacted, bookkeeping fields left out). The request id is added by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strawberry.types import Info

from tenancy.audit import field_changes

#: Bookkeeping fields that are not changes an admin made.
_IGNORED = frozenset({"_id", "created_at", "updated_at", "version", "name_key", "code_key"})


async def record(
    info: Info,
    action: str,
    kind: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
) -> None:
    """Append the audit entry of one change made by the request's caller.

    Args:
        action: e.g. ``service.create``, ``location.deactivate``.
        kind: the target's kind (``service``); its id is ``after["_id"]``.
        before: the record before the change (``None`` for a creation).
        after: the record after it.
    """
    context = info.context
    await context.runtime.store.append_audit(
        context.principal.actor,
        action,
        context.tenant.slug if context.tenant else None,
        {},
        target=f"{kind}:{after.get('_id')}",
        changes=field_changes(before or {}, after, ignore=_IGNORED),
    )
