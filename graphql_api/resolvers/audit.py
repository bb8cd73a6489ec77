"""``auditLog``: tenant admins read their tenant's entries, super-admins every tenant's."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.audit import AuditConnection, AuditEntry, AuditFilter


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit log, newest first. Tenant admins see only their tenant's "
        "entries; super-admins all (or one tenant's with filter.tenant).",
        extensions=requires("audit.read"),
    )
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AuditFilter | None = None,
    ) -> AuditConnection | None:
        context = info.context
        wanted = filter or AuditFilter()
        if context.principal.is_super_admin:
            tenant = wanted.tenant or (context.tenant.slug if context.tenant else None)
        else:
            tenant = context.require_tenant()[0].slug  # never another tenant's
        page = await context.runtime.store.audit_page(
            tenant=tenant,
            action=wanted.action,
            actor=wanted.actor,
            since=wanted.since,
            until=wanted.until,
            first=page_size(info, first),
            after=after,
        )
        return AuditConnection.from_page(page, AuditEntry.from_doc)
