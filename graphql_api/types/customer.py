"""Customer types and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from domain import customers as svc
from graphql_api.types.common import Connection, UserError
from graphql_api.types.node import Node

CustomerStatus = strawberry.enum(svc.CustomerStatus, name="CustomerStatus")
CustomerSort = strawberry.enum(svc.CustomerSort, name="CustomerSort")


@strawberry.type
class Customer(Node):
    id: strawberry.ID
    name: str
    email: str | None
    phone: str | None
    company: str | None
    tags: list[str]
    notes: str | None
    status: CustomerStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Customer:
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            name=doc["name"],
            email=doc.get("email"),
            phone=doc.get("phone"),
            company=doc.get("company"),
            tags=doc.get("tags") or [],
            notes=doc.get("notes"),
            status=svc.CustomerStatus(doc.get("status", "active")),
            created_at=doc["created_at"],
            updated_at=doc.get("updated_at", doc["created_at"]),
        )


CustomerConnection = Connection[Customer]


@strawberry.input
class CustomerFilter:
    search: str | None = strawberry.field(default=None, description="Part of name or email.")
    status: CustomerStatus | None = None  # type: ignore[valid-type]
    tag: str | None = None


@strawberry.input
class CreateCustomerInput:
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tags: list[str] | None = None
    notes: str | None = None


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateCustomerInput:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    status: CustomerStatus | None = None  # type: ignore[valid-type]


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
