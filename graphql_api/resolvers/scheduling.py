"""``availableSlots`` (public) and staff management (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.availability_service import AvailabilityService
from domain.staff import StaffFields, StaffService
from graphql_api import audit_trail
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.scheduling import AvailableSlot, AvailableSlots
from graphql_api.types.staff import (
    CreateStaffMemberInput,
    StaffConnection,
    StaffMember,
    StaffMemberPayload,
    UpdateStaffMemberInput,
)
from tenancy.errors import not_found


def _staff(info: Info, *, write: bool) -> StaffService:
    context = info.context
    tenant, db = context.require_writable() if write else context.require_tenant()
    return StaffService(db, tenant, context.runtime.store.user_by_id)


@strawberry.type
class SchedulingQueries:
    @strawberry.field(extensions=requires("slots.read"))
    async def available_slots(
        self,
        info: Info,
        service_id: strawberry.ID,
        from_: Annotated[
            datetime, strawberry.argument(name="from", description="Inclusive, with offset.")
        ],
        to: Annotated[
            datetime, strawberry.argument(description="Exclusive; at most 31 days after `from`.")
        ],
        location_id: strawberry.ID | None = None,
        staff_id: strawberry.ID | None = None,
    ) -> AvailableSlots:
        """Free start times of a service (at a location, with a staff member) in a range.

        Working hours minus overrides minus existing bookings widened by their
        buffers, after the minimum notice and within the maximum advance.
        VALIDATION_FAILED on `to` beyond 31 days; NOT_FOUND for unknown ids.
        """
        tenant, db = info.context.require_tenant()
        answer = await AvailabilityService(db, tenant).slots(
            service_id, location_id, staff_id, from_, to
        )
        group = answer.capacity > 1
        return AvailableSlots(
            timezone=answer.timezone,
            slots=[
                AvailableSlot(
                    starts_at=s.starts_at,
                    starts_at_local=s.local.isoformat(),
                    ends_at=s.ends_at,
                    seats_left=s.seats_left if group else None,
                )
                for s in answer.slots
            ],
        )

    @strawberry.field(extensions=requires("services.read"))
    async def staff_members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_inactive: bool = False,
    ) -> StaffConnection | None:
        """Staff by name; inactive ones only for staff roles."""
        show_inactive = include_inactive and info.context.principal.can("bookings.read")
        page = await _staff(info, write=False).page(
            include_inactive=show_inactive, first=page_size(info, first), after=after
        )
        return StaffConnection.from_page(page, StaffMember.from_doc)

    @strawberry.field(extensions=requires("services.read"))
    async def staff_member(self, info: Info, id: strawberry.ID) -> StaffMember | None:
        """One staff member. NOT_FOUND also for ids of other tenants (and, for the
        public, inactive ones)."""
        doc = await _staff(info, write=False).get(id)
        visible = doc is not None and (
            doc.get("active", True) or info.context.principal.can("bookings.read")
        )
        if doc is None or not visible:
            raise not_found("staff member", id)
        return StaffMember.from_doc(doc)


def _changes(input: UpdateStaffMemberInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in (
        "name",
        "email",
        "user_id",
        "service_ids",
        "location_ids",
        "timezone",
        "active",
    ):
        value = getattr(input, name)
        if value is not strawberry.UNSET:
            changes[name] = value
    if input.availability is not strawberry.UNSET:
        changes["availability"] = input.availability.to_dict() if input.availability else None
    return changes


@strawberry.type
class SchedulingMutations:
    @strawberry.mutation(extensions=requires("services.write"))
    async def create_staff_member(
        self, info: Info, input: CreateStaffMemberInput
    ) -> StaffMemberPayload:
        """Add a staff member (admins); `userId` must be a user of this tenant."""

        async def run() -> StaffMemberPayload:
            doc = await _staff(info, write=True).create(
                StaffFields(
                    name=input.name,
                    email=input.email,
                    user_id=input.user_id,
                    service_ids=list(input.service_ids),
                    location_ids=list(input.location_ids),
                    availability=input.availability.to_dict() if input.availability else None,
                    timezone=input.timezone,
                )
            )
            await audit_trail.record(info, "staff.create", "staff", None, doc)
            return StaffMemberPayload(staff_member=StaffMember.from_doc(doc))

        return await mutation_payload(StaffMemberPayload, run)

    @strawberry.mutation(extensions=requires("services.write"))
    async def update_staff_member(
        self, info: Info, id: strawberry.ID, input: UpdateStaffMemberInput
    ) -> StaffMemberPayload:
        """Change a staff member's fields (admins)."""

        async def run() -> StaffMemberPayload:
            staff = _staff(info, write=True)
            before = await staff.get(id)
            doc = await staff.update(id, _changes(input))
            await audit_trail.record(info, "staff.update", "staff", before, doc)
            return StaffMemberPayload(staff_member=StaffMember.from_doc(doc))

        return await mutation_payload(StaffMemberPayload, run)

    @strawberry.mutation(extensions=requires("services.write"))
    async def deactivate_staff_member(self, info: Info, id: strawberry.ID) -> StaffMemberPayload:
        """No new bookings with this staff member; existing bookings stay intact."""

        async def run() -> StaffMemberPayload:
            staff = _staff(info, write=True)
            before = await staff.get(id)
            doc = await staff.deactivate(id)
            await audit_trail.record(info, "staff.deactivate", "staff", before, doc)
            return StaffMemberPayload(staff_member=StaffMember.from_doc(doc))

        return await mutation_payload(StaffMemberPayload, run)
