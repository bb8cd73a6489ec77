"""Relay's ``node(id:)``: any cacheable object again by its id (issue 12, item 9).

Ids are the ones every other field returns and takes (ObjectIds, unique across
collections: ``graphql_api.types.node``). A look-up only searches what the
caller may read, with the same rules as the object's own query:

- in the request's tenant: customers (``customers.read``), bookings
  (``bookings.read``), discount codes (``discounts.read``), services,
  locations and staff (``services.read``; inactive ones only for roles with
  ``bookings.read``, like the lists), the tenant itself (``tenant.read``);
- the logged-in user (as ``me``); any tenant for ``platform.read``
  (super-admins, as ``tenants``); the active plans (public, as ``plans``).

Anything else, including every id of another tenant and objects the caller
may not read, is ``NOT_FOUND``: the answer never tells whether an id exists
elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from bson import ObjectId
from bson.errors import InvalidId
from strawberry.types import Info

from domain.bookings import BookingService
from domain.catalog import CatalogService
from domain.customers import CustomerService
from domain.discount_codes import DiscountCodes
from domain.staff import StaffService
from graphql_api.types.booking import Booking
from graphql_api.types.catalog import Location, Service
from graphql_api.types.customer import Customer
from graphql_api.types.discount_code import DiscountCode
from graphql_api.types.node import Node
from graphql_api.types.staff import StaffMember
from graphql_api.types.tenant import Plan, Tenant, User
from tenancy.errors import not_found

Lookup = Callable[[], Awaitable[Node | None]]


def _object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def _tenant_lookups(info: Info, id: str) -> list[Lookup]:
    """Look-ups in the request's tenant, for what the caller may read there."""
    context = info.context
    if context.tenant is None or context.db is None:
        return []
    tenant, db = context.tenant, context.db
    principal = context.principal
    staff_view = principal.can("bookings.read")  # inactive catalog entries, like the lists
    lookups: list[Lookup] = []

    def visible(doc: dict[str, Any] | None) -> bool:
        return doc is not None and (staff_view or bool(doc.get("active", True)))

    if principal.can("tenant.read"):

        async def own_tenant() -> Node | None:
            return Tenant.from_model(tenant) if str(tenant.id) == id else None

        lookups.append(own_tenant)
    if principal.can("customers.read"):

        async def customer() -> Node | None:
            doc = await CustomerService(db, tenant).get(id)
            return Customer.from_doc(doc) if doc else None

        lookups.append(customer)
    if principal.can("bookings.read"):

        async def booking() -> Node | None:
            service = BookingService(db, tenant, principal.actor, context.outbox_setup)
            doc = await service.get(id)
            return Booking.from_doc(doc) if doc else None

        lookups.append(booking)
    if principal.can("discounts.read"):

        async def discount_code() -> Node | None:
            doc = await DiscountCodes(db).get(id)
            return DiscountCode.from_doc(doc) if doc else None

        lookups.append(discount_code)
    if principal.can("services.read"):

        async def service() -> Node | None:
            doc = await CatalogService(db).service(id)
            return Service.from_doc(doc) if doc and visible(doc) else None

        async def location() -> Node | None:
            doc = await CatalogService(db).location(id)
            return Location.from_doc(doc) if doc and visible(doc) else None

        async def staff_member() -> Node | None:
            doc = await StaffService(db, tenant, context.runtime.store.user_by_id).get(id)
            return StaffMember.from_doc(doc) if doc and visible(doc) else None

        lookups += [service, location, staff_member]
    return lookups


def _platform_lookups(info: Info, id: str) -> list[Lookup]:
    """Look-ups in the platform database: the caller's own user, tenants for
    super-admins, the active plans."""
    context = info.context
    principal, store = context.principal, context.runtime.store
    oid = _object_id(id)
    lookups: list[Lookup] = []

    async def plan() -> Node | None:
        found = [p for p in await store.plans() if str(p.id) == id]
        return Plan.from_model(found[0]) if found else None

    lookups.append(plan)
    if oid is not None and principal.is_authenticated and principal.user_id == id:

        async def me() -> Node | None:
            user = await store.user_by_id(oid)
            return User.from_model(user) if user is not None and user.active else None

        lookups.append(me)
    if oid is not None and principal.can("platform.read"):

        async def any_tenant() -> Node | None:
            tenant = await store.tenant_by_id(oid)
            return Tenant.from_model(tenant) if tenant is not None else None

        lookups.append(any_tenant)
    return lookups


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object with an id (Relay): what the caller may read in the "
        "request's tenant, the own user, active plans; NOT_FOUND otherwise."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        """The object with this id, searched concurrently where the caller may read.

        Raises:
            AppError(NOT_FOUND): no such object, or none the caller may read.
        """
        lookups = _tenant_lookups(info, id) + _platform_lookups(info, id)
        for found in await asyncio.gather(*(lookup() for lookup in lookups)):
            if found is not None:
                return found
        raise not_found("node", id)
