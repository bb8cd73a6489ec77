"""Referral/discount codes: upkeep and listing (admins), and the public check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import strawberry
from strawberry.types import Info

from domain.discount_codes import DiscountCodeFields, DiscountCodes
from graphql_api import audit_trail
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.catalog import given_fields
from graphql_api.types.discount_code import (
    CreateDiscountCodeInput,
    DiscountCode,
    DiscountCodeCheck,
    DiscountCodeConnection,
    DiscountCodePayload,
    UpdateDiscountCodeInput,
)
from tenancy.errors import not_found


async def count_code_check(info: Info) -> None:
    """Count one guess of a discount code against the caller's address (like logins).

    Raises:
        AppError(RATE_LIMITED) with ``retryAfter`` when the address used its budget.
    """
    limiter = info.context.login_limiter
    if limiter is not None:
        await limiter.hit_code_check(info.context.client_address)


async def _payload(
    info: Info,
    write: Callable[[DiscountCodes], Awaitable[dict[str, Any]]],
    action: str,
    ident: str | None = None,
) -> DiscountCodePayload:
    async def run() -> DiscountCodePayload:
        _, db = info.context.require_writable()
        codes = DiscountCodes(db)
        before = await codes.get(ident) if ident else None
        doc = await write(codes)
        await audit_trail.record(info, action, "discount_code", before, doc)
        return DiscountCodePayload(discount_code=DiscountCode.from_doc(doc))

    return await mutation_payload(DiscountCodePayload, run)


@strawberry.type
class DiscountCodeQueries:
    @strawberry.field(extensions=requires("discounts.read"))
    async def discount_codes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_inactive: bool = False,
    ) -> DiscountCodeConnection | None:
        """Referral/discount codes in code order (admins: doctor names and usage)."""
        _, db = info.context.require_tenant()
        page = await DiscountCodes(db).page(
            page_size(info, first), after, include_inactive=include_inactive
        )
        return DiscountCodeConnection.from_page(page, DiscountCode.from_doc)

    @strawberry.field(extensions=requires("discounts.read"))
    async def discount_code(self, info: Info, id: strawberry.ID) -> DiscountCode | None:
        """One code. NOT_FOUND also for ids of other tenants."""
        _, db = info.context.require_tenant()
        doc = await DiscountCodes(db).get(id)
        if doc is None:
            raise not_found("discount code", id)
        return DiscountCode.from_doc(doc)

    @strawberry.field(extensions=requires("discounts.validate"))
    async def validate_discount_code(
        self, info: Info, code: str, service_id: strawberry.ID
    ) -> DiscountCodeCheck:
        """Whether ``code`` gives a discount on a bookable service now, and how much.

        Public (anonymous callers of a tenant); rate-limited per client address.
        NOT_FOUND when the service is unknown or not bookable.
        """
        _, db = info.context.require_tenant()
        await count_code_check(info)
        return DiscountCodeCheck.from_check(await DiscountCodes(db).check(code, service_id))


@strawberry.type
class DiscountCodeMutations:
    @strawberry.mutation(extensions=requires("services.write"))
    async def create_discount_code(
        self, info: Info, input: CreateDiscountCodeInput
    ) -> DiscountCodePayload:
        fields = DiscountCodeFields(**asdict(input))
        return await _payload(info, lambda codes: codes.create(fields), "discount_code.create")

    @strawberry.mutation(extensions=requires("services.write"))
    async def update_discount_code(
        self, info: Info, id: strawberry.ID, input: UpdateDiscountCodeInput
    ) -> DiscountCodePayload:
        changes = given_fields(input)
        if changes.get("service_ids") is None and "service_ids" in changes:
            changes["service_ids"] = []
        return await _payload(
            info, lambda codes: codes.update(id, changes), "discount_code.update", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def deactivate_discount_code(self, info: Info, id: strawberry.ID) -> DiscountCodePayload:
        """The code no longer applies to new bookings; bookings made with it keep their price."""
        return await _payload(
            info, lambda codes: codes.set_active(id, False), "discount_code.deactivate", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def reactivate_discount_code(self, info: Info, id: strawberry.ID) -> DiscountCodePayload:
        return await _payload(
            info, lambda codes: codes.set_active(id, True), "discount_code.reactivate", id
        )
