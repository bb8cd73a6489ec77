"""Customer queries and mutations."""

from __future__ import annotations

from dataclasses import asdict

import strawberry
from strawberry.types import Info

from domain import customers as svc
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.customer import (
    CreateCustomerInput,
    Customer,
    CustomerConnection,
    CustomerFilter,
    CustomerPayload,
    CustomerSort,
    UpdateCustomerInput,
)
from tenancy.errors import not_found


def _service(info: Info, *, write: bool) -> svc.CustomerService:
    tenant, db = info.context.require_writable() if write else info.context.require_tenant()
    return svc.CustomerService(db, tenant)


@strawberry.type
class CustomerQueries:
    @strawberry.field(extensions=requires("customers.read"))
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        """One live customer. NOT_FOUND also for ids of other tenants."""
        doc = await _service(info, write=False).get(id)
        if doc is None:
            raise not_found("customer", id)
        return Customer.from_doc(doc)

    @strawberry.field(extensions=requires("customers.read"))
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CustomerFilter | None = None,
        sort: CustomerSort = svc.CustomerSort.CREATED_AT_DESC,  # type: ignore[valid-type]
    ) -> CustomerConnection | None:
        """Customers, newest first by default; search matches name or email."""
        flt = svc.CustomerFilter(**asdict(filter)) if filter else svc.CustomerFilter()
        page = await _service(info, write=False).page(flt, sort, page_size(info, first), after)
        return CustomerConnection.from_page(page, Customer.from_doc)


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(extensions=requires("customers.write"))
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        async def run() -> CustomerPayload:
            doc = await _service(info, write=True).create(svc.CustomerFields(**asdict(input)))
            return CustomerPayload(customer=Customer.from_doc(doc))

        return await mutation_payload(CustomerPayload, run)

    @strawberry.mutation(extensions=requires("customers.write"))
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: UpdateCustomerInput
    ) -> CustomerPayload:
        async def run() -> CustomerPayload:
            doc = await _service(info, write=True).update(id, svc.CustomerFields(**asdict(input)))
            return CustomerPayload(customer=Customer.from_doc(doc))

        return await mutation_payload(CustomerPayload, run)

    @strawberry.mutation(extensions=requires("customers.write"))
    async def delete_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        """Soft delete: hidden from queries, email freed, bookings kept."""

        async def run() -> CustomerPayload:
            doc = await _service(info, write=True).delete(id)
            return CustomerPayload(customer=Customer.from_doc(doc))

        return await mutation_payload(CustomerPayload, run)
