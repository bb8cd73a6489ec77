"""Staff member types and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_api.permissions import requires
from graphql_api.types.availability import AvailabilityRules, AvailabilityRulesInput
from graphql_api.types.common import Connection, UserError
from graphql_api.types.node import Node


@strawberry.type(description="A person bookings can name; never booked twice at once.")
class StaffMember(Node):
    id: strawberry.ID
    name: str
    active: bool
    service_ids: list[strawberry.ID] = strawberry.field(description="Empty: every service.")
    location_ids: list[strawberry.ID] = strawberry.field(description="Empty: every location.")
    timezone: str | None
    availability: AvailabilityRules | None = strawberry.field(
        description="Own hours (intersected with the location's); null: the location's."
    )
    created_at: datetime
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(extensions=requires("bookings.read"))
    def email(self) -> str | None:
        return self.doc.get("email")

    @strawberry.field(
        extensions=requires("bookings.read"), description="The linked login of this tenant."
    )
    def user_id(self) -> strawberry.ID | None:
        user = self.doc.get("user_id")
        return strawberry.ID(str(user)) if user else None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StaffMember:
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            name=doc["name"],
            active=doc.get("active", True),
            service_ids=[strawberry.ID(str(i)) for i in doc.get("service_ids", [])],
            location_ids=[strawberry.ID(str(i)) for i in doc.get("location_ids", [])],
            timezone=doc.get("timezone"),
            availability=AvailabilityRules.from_doc(doc.get("availability")),
            created_at=doc["created_at"],
            doc=doc,
        )


StaffConnection = Connection[StaffMember]


@strawberry.input
class CreateStaffMemberInput:
    name: str
    email: str | None = None
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A user of this tenant to link."
    )
    service_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    location_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    availability: AvailabilityRulesInput | None = None
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone of `availability`; default: the location's."
    )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateStaffMemberInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    user_id: strawberry.ID | None = strawberry.UNSET
    service_ids: list[strawberry.ID] | None = strawberry.UNSET
    location_ids: list[strawberry.ID] | None = strawberry.UNSET
    availability: AvailabilityRulesInput | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class StaffMemberPayload:
    staff_member: StaffMember | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
