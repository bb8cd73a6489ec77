"""Catalog types: services (tests, treatments, packages of work) and locations."""

from __future__ import annotations

from typing import Any

import strawberry

from graphql_api.types.common import Money, UserError


@strawberry.type(description="A bookable service.")
class Service:
    id: strawberry.ID
    code: str
    name: str
    description: str | None
    duration_minutes: int
    price: Money
    active: bool

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Service:
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            code=doc["code"],
            name=doc["name"],
            description=doc.get("description"),
            duration_minutes=doc["duration_minutes"],
            price=Money(amount_minor=doc["price_minor"], currency=doc["currency"]),
            active=doc.get("active", True),
        )


@strawberry.type(description="A place or resource bookings happen at; one booking per slot.")
class Location:
    id: strawberry.ID
    name: str
    city: str | None
    district: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Location:
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            name=doc["name"],
            city=doc.get("city"),
            district=doc.get("district"),
        )


@strawberry.input
class CreateServiceInput:
    name: str
    duration_minutes: int
    price_minor: int = strawberry.field(description="Price in minor units of currency.")
    currency: str
    code: str | None = None
    description: str | None = None
    active: bool = True


@strawberry.type
class ServicePayload:
    service: Service | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
