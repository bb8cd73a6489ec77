"""Catalog types: services (tests, treatments, packages of work) and locations."""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry

from graphql_api.types.availability import AvailabilityRules, AvailabilityRulesInput
from graphql_api.types.common import Money, UserError
from graphql_api.types.node import Node


def given_fields(input: object) -> dict[str, Any]:
    """The fields of an update input the client gave (null included), by their Python name.

    Fields left out are ``strawberry.UNSET`` and do not change anything.
    """
    return {
        f.name: getattr(input, f.name)
        for f in dataclasses.fields(input)  # type: ignore[arg-type]
        if getattr(input, f.name) is not strawberry.UNSET
    }


@strawberry.type(description="A bookable service.")
class Service(Node):
    id: strawberry.ID
    code: str
    name: str
    description: str | None
    duration_minutes: int
    price: Money
    active: bool
    buffer_before_minutes: int = strawberry.field(description="Kept free before each booking.")
    buffer_after_minutes: int = strawberry.field(description="Kept free after each booking.")
    min_notice_minutes: int = strawberry.field(description="Earliest booking: now + this.")
    max_advance_days: int | None = strawberry.field(
        description="Latest booking: now + this many days; null: no horizon."
    )
    slot_step_minutes: int = strawberry.field(description="Distance of offered start times.")
    capacity: int = strawberry.field(description="Customers served at once (seats).")

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
            # Documents written before scheduling lack these: the model's defaults.
            buffer_before_minutes=doc.get("buffer_before_minutes", 0),
            buffer_after_minutes=doc.get("buffer_after_minutes", 0),
            min_notice_minutes=doc.get("min_notice_minutes", 0),
            max_advance_days=doc.get("max_advance_days"),
            slot_step_minutes=doc.get("slot_step_minutes", 15),
            capacity=doc.get("capacity", 1),
        )


@strawberry.type(description="A place or resource bookings happen at; one booking per slot.")
class Location(Node):
    id: strawberry.ID
    name: str
    city: str | None
    district: str | None
    timezone: str | None = strawberry.field(description="IANA time zone; null: the tenant's.")
    active: bool
    availability: AvailabilityRules | None = strawberry.field(
        description="Working hours; null: no hours set, bookable at any time."
    )

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Location:
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            name=doc["name"],
            city=doc.get("city"),
            district=doc.get("district"),
            timezone=doc.get("timezone"),
            active=doc.get("active", True),
            availability=AvailabilityRules.from_doc(doc.get("availability")),
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
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 0
    max_advance_days: int | None = None
    slot_step_minutes: int = strawberry.field(default=15, description="5-60, a multiple of 5.")
    capacity: int = 1


@strawberry.input(description="Fields to change; a field left out keeps its value.")
class UpdateServiceInput:
    name: str | None = strawberry.UNSET
    code: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    price_minor: int | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    buffer_before_minutes: int | None = strawberry.UNSET
    buffer_after_minutes: int | None = strawberry.UNSET
    min_notice_minutes: int | None = strawberry.UNSET
    max_advance_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="null removes the horizon."
    )
    slot_step_minutes: int | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET


@strawberry.type
class ServicePayload:
    service: Service | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateLocationInput:
    name: str
    city: str | None = None
    district: str | None = None
    timezone: str | None = strawberry.field(
        default=None, description="IANA name, e.g. Europe/Istanbul; null: the tenant's."
    )
    availability: AvailabilityRulesInput | None = strawberry.field(
        default=None, description="null: no hours set, bookable at any time."
    )
    active: bool = True


@strawberry.input(description="Fields to change; a field left out keeps its value.")
class UpdateLocationInput:
    name: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    district: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    availability: AvailabilityRulesInput | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces weekly hours and overrides; null: none."
    )
    active: bool | None = strawberry.UNSET


@strawberry.type
class LocationPayload:
    location: Location | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
