"""Audit log types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from graphql_api.types.common import Connection


@strawberry.type(description="One changed field of an audited change (secrets redacted).")
class AuditChange:
    field: str
    before: JSON | None
    after: JSON | None


@strawberry.type(description="One administrative change: who, where, what, when.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str = strawberry.field(
        description="user:<id>, operator:<os user>, signup:<slug>, system:<what>, cli"
    )
    actor_kind: str
    action: str
    tenant: str | None
    target: str | None
    changes: list[AuditChange]
    details: JSON
    request_id: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuditEntry:
        changes = doc.get("changes") or {}
        actor = str(doc.get("actor") or "")
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            at=doc["at"],
            actor=actor,
            actor_kind=str(doc.get("actor_kind") or actor.partition(":")[0]),
            action=str(doc.get("action") or ""),
            tenant=doc.get("tenant"),
            target=doc.get("target"),
            changes=[
                AuditChange(field=name, before=_json(c.get("before")), after=_json(c.get("after")))
                for name, c in sorted(changes.items())
                if isinstance(c, dict)
            ],
            details=_json(doc.get("details") or {}),
            request_id=doc.get("request_id"),
        )


def _json(value: Any) -> Any:
    """A stored value as JSON (ObjectIds and datetimes as strings)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


AuditConnection = Connection[AuditEntry]


@strawberry.input
class AuditFilter:
    action: str | None = strawberry.field(
        default=None, description="An action, or a prefix ending in '.' (e.g. 'user.')."
    )
    actor: str | None = None
    tenant: str | None = strawberry.field(
        default=None, description="Super-admins: one tenant's entries (tenant admins: ignored)."
    )
    since: datetime | None = None
    until: datetime | None = None
