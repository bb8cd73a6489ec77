"""The customer's own booking: look-up by confirmation number + email, and cancel.

Public (anonymous callers of a tenant may call them); every call counts
against the caller's address and the confirmation number
(``graphql_api.rate_limit.BookingLookupRateLimiter``) before anything is read.
The rules are in ``domain.booking_lookup``.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.booking_lookup import BookingLookup
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.types.public_booking import PublicBooking, PublicBookingPayload

NumberArg = Annotated[
    str, strawberry.argument(description="As printed on the confirmation, e.g. WE-2611-00042.")
]
EmailArg = Annotated[
    str, strawberry.argument(description="The email the booking was made with (any case).")
]


async def _counted(info: Info, confirmation_number: str) -> BookingLookup:
    """The request's tenant's look-up service, after counting this attempt.

    Raises:
        AppError: TENANT_REQUIRED, RATE_LIMITED.
    """
    context = info.context
    tenant, db = context.require_tenant()
    if context.lookup_limiter is not None:
        await context.lookup_limiter.hit(tenant.slug, context.client_address, confirmation_number)
    return BookingLookup(db, tenant, context.outbox_setup)


@strawberry.type
class PublicBookingQueries:
    @strawberry.field(extensions=requires("bookings.lookup"))
    async def booking_lookup(
        self, info: Info, confirmation_number: NumberArg, email: EmailArg
    ) -> PublicBooking:
        """The one booking with this confirmation number booked with this email.

        NOT_FOUND, with one message, when the number does not exist or the
        email does not match; rate-limited per address and per number.
        """
        lookup = await _counted(info, confirmation_number)
        return PublicBooking.from_view(await lookup.view(confirmation_number, email))


@strawberry.type
class PublicBookingMutations:
    @strawberry.mutation(extensions=requires("bookings.lookup"))
    async def cancel_booking_by_customer(
        self,
        info: Info,
        confirmation_number: NumberArg,
        email: EmailArg,
        reason: str | None = None,
    ) -> PublicBookingPayload:
        """The customer cancels their own open booking while its start is more than the
        tenant's cancellation window away (else CANCELLATION_WINDOW_CLOSED); frees its slot."""

        async def run() -> PublicBookingPayload:
            context = info.context
            context.require_writable()
            lookup = await _counted(info, confirmation_number)
            view = await lookup.cancel(confirmation_number, email, reason)
            return PublicBookingPayload(booking=PublicBooking.from_view(view))

        return await mutation_payload(PublicBookingPayload, run)
