"""Booking queries and mutations (create and status-machine transitions)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from domain import bookings as svc
from domain.booking_rules import BookingAction
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.resolvers.discount_codes import count_code_check
from graphql_api.types.booking import (
    Booking,
    BookingConnection,
    BookingFilter,
    BookingPayload,
    BookingSort,
    CreateBookingInput,
)
from tenancy.errors import not_found


def _service(info: Info, *, write: bool) -> svc.BookingService:
    context = info.context
    tenant, db = context.require_writable() if write else context.require_tenant()
    return svc.BookingService(db, tenant, context.principal.actor, context.outbox_setup)


async def _transition(
    info: Info, id: str, action: BookingAction, reason: str | None = None
) -> BookingPayload:
    async def run() -> BookingPayload:
        doc = await _service(info, write=True).transition(id, action, reason)
        return BookingPayload(booking=Booking.from_doc(doc))

    return await mutation_payload(BookingPayload, run)


@strawberry.type
class BookingQueries:
    @strawberry.field(extensions=requires("bookings.read"))
    async def booking(self, info: Info, id: strawberry.ID) -> Booking | None:
        """One booking. NOT_FOUND also for ids of other tenants."""
        doc = await _service(info, write=False).get(id)
        if doc is None:
            raise not_found("booking", id)
        return Booking.from_doc(doc)

    @strawberry.field(extensions=requires("bookings.read"))
    async def bookings(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: BookingFilter | None = None,
        sort: BookingSort = svc.BookingSort.STARTS_AT_DESC,  # type: ignore[valid-type]
    ) -> BookingConnection | None:
        """Bookings, latest appointment first by default."""
        flt = svc.BookingFilter()
        if filter:
            flt = svc.BookingFilter(
                statuses=filter.statuses,
                starts_from=filter.starts_from,
                starts_before=filter.starts_before,
                customer_id=filter.customer_id,
                service_id=filter.service_id,
            )
        page = await _service(info, write=False).page(flt, sort, page_size(info, first), after)
        return BookingConnection.from_page(page, Booking.from_doc)


@strawberry.type
class BookingMutations:
    @strawberry.mutation(extensions=requires("bookings.create"))
    async def create_booking(self, info: Info, input: CreateBookingInput) -> BookingPayload:
        """Book a service. Price, discount and final price are computed here.

        Anonymous callers (public booking site) must give inline customer details.
        """

        async def run() -> BookingPayload:
            if input.referral_code and not info.context.principal.is_authenticated:
                await count_code_check(info)  # a booking must not be a way to guess codes
            inline = input.customer
            request = svc.BookingRequest(
                service_id=input.service_id,
                starts_at=input.starts_at,
                customer_id=input.customer_id,
                customer=svc.InlineCustomer(inline.name, inline.email, inline.phone)
                if inline
                else None,
                location_id=input.location_id,
                staff_id=input.staff_id,
                referral_code=input.referral_code,
                notes=input.notes,
                idempotency_key=input.idempotency_key,
            )
            allow_id = info.context.principal.can("customers.read")
            result = await _service(info, write=True).create(request, allow_customer_id=allow_id)
            booking = Booking.from_doc(result.booking)
            return BookingPayload(booking=booking, replayed=result.replayed)

        return await mutation_payload(BookingPayload, run)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def confirm_booking(self, info: Info, id: strawberry.ID) -> BookingPayload:
        return await _transition(info, id, BookingAction.CONFIRM)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def schedule_booking(self, info: Info, id: strawberry.ID) -> BookingPayload:
        return await _transition(info, id, BookingAction.SCHEDULE)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def start_booking(self, info: Info, id: strawberry.ID) -> BookingPayload:
        return await _transition(info, id, BookingAction.START)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def complete_booking(self, info: Info, id: strawberry.ID) -> BookingPayload:
        return await _transition(info, id, BookingAction.COMPLETE)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def cancel_booking(self, info: Info, id: strawberry.ID, reason: str) -> BookingPayload:
        """Cancel an open booking; frees its slot."""
        return await _transition(info, id, BookingAction.CANCEL, reason)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def mark_booking_no_show(self, info: Info, id: strawberry.ID) -> BookingPayload:
        return await _transition(info, id, BookingAction.NO_SHOW)

    @strawberry.mutation(extensions=requires("bookings.write"))
    async def reschedule_booking(
        self,
        info: Info,
        id: strawberry.ID,
        starts_at: datetime,
        location_id: strawberry.ID | None = None,
    ) -> BookingPayload:
        """Move an open booking; the new slot is claimed before the old one is freed."""

        async def run() -> BookingPayload:
            doc = await _service(info, write=True).reschedule(id, starts_at, location_id)
            return BookingPayload(booking=Booking.from_doc(doc))

        return await mutation_payload(BookingPayload, run)
