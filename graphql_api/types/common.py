"""Shared schema types: error codes, user errors, money, connections."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

import strawberry

from tenancy.errors import AppError, ErrorCode
from tenancy.pagination import Page
from tenancy.validation import currency_exponent

ErrorCodeEnum = strawberry.enum(ErrorCode, name="ErrorCode", description="Stable error codes.")
# Each value is described by its code's declared line (tenancy/errors.py).
_definition = ErrorCodeEnum.__strawberry_definition__  # type: ignore[attr-defined]
_codes = {code.value: code for code in ErrorCode}
_definition.values = [
    dataclasses.replace(value, description=_codes[value.value].info.description)
    for value in _definition.values
]

T = TypeVar("T")


@strawberry.type(description="An expected failure of a mutation (validation, limits, state).")
class UserError:
    field: list[str] | None = strawberry.field(description="Input path at fault, if any.")
    code: ErrorCodeEnum  # type: ignore[valid-type]
    message: str

    @classmethod
    def from_app_error(cls, error: AppError) -> UserError:
        return cls(field=error.field, code=error.code, message=error.message)


@strawberry.type(description="An amount of money: integer minor units plus ISO 4217 currency.")
class Money:
    amount_minor: int = strawberry.field(description="Amount in minor units (kuruş, cents).")
    currency: str

    @strawberry.field(description="Decimal string in major units, e.g. '1757.50'.")
    def amount(self) -> str:
        exponent = currency_exponent(self.currency)
        unit = Decimal(1).scaleb(-exponent)
        return str(Decimal(self.amount_minor).scaleb(-exponent).quantize(unit))


@strawberry.type(description="Where a page lies in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge; pass as after.")
    has_previous_page: bool = strawberry.field(
        default=False,
        description="True when the page was asked for with an after cursor (the rows up to "
        "that cursor precede it); pagination is forward only (first/after).",
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="Cursor of the first edge; null on an empty page."
    )


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A forward-paginated list (Relay cursor connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    page: strawberry.Private[Page]

    @strawberry.field(description="The items of this page (same as edges.node).")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="All items matching the filter (one extra count query).")
    async def total_count(self) -> int:
        return await self.page.count()

    @classmethod
    def from_page(cls, page: Page, convert: Callable[[dict[str, Any]], T]) -> Connection[T]:
        edges = [
            Edge(cursor=cursor, node=convert(doc))
            for doc, cursor in zip(page.docs, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=page.cursors[-1] if page.cursors else None,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
            ),
            page=page,
        )
