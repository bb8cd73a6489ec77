"""Referral/discount code types: the staff's view, inputs, and the public check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from domain import discount_codes as svc
from graphql_api.types.common import Connection, Money, UserError
from graphql_api.types.node import Node

DiscountCodeReason = strawberry.enum(
    svc.CodeReason,
    name="DiscountCodeReason",
    description="Why a code gives no discount on a service.",
)


@strawberry.type(description="A referral or discount code (staff view: doctor and usage included).")
class DiscountCode(Node):
    id: strawberry.ID
    code: str
    doctor_name: str | None = strawberry.field(description="The referring doctor, if any.")
    discount_basis_points: int = strawberry.field(
        description="Percentage discount in basis points (1000 = 10 %); 0 with a fixed amount."
    )
    discount_amount: Money | None = strawberry.field(
        description="Fixed discount (never more than the price); null for a percentage."
    )
    valid_from: datetime | None = strawberry.field(description="UTC, inclusive; null: always.")
    valid_until: datetime | None = strawberry.field(description="UTC, exclusive; null: forever.")
    max_uses: int | None = strawberry.field(description="Bookings allowed; null: no limit.")
    uses: int = strawberry.field(description="Bookings made with the code (cancelled included).")
    service_ids: list[strawberry.ID] = strawberry.field(description="Empty: every service.")
    active: bool

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DiscountCode:
        amount = doc.get("discount_amount_minor")
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            code=doc["code"],
            doctor_name=doc.get("doctor_name"),
            discount_basis_points=int(doc.get("discount_basis_points") or 0),
            discount_amount=(
                Money(amount_minor=amount, currency=doc["discount_currency"])
                if amount is not None
                else None
            ),
            valid_from=doc.get("valid_from"),
            valid_until=doc.get("valid_until"),
            max_uses=doc.get("max_uses"),
            uses=int(doc.get("uses") or 0),
            service_ids=[strawberry.ID(str(i)) for i in doc.get("service_ids") or []],
            active=doc.get("active", True),
        )


DiscountCodeConnection = Connection[DiscountCode]


@strawberry.input(
    description="A new code: give discountBasisPoints OR discountAmountMinor + discountCurrency."
)
class CreateDiscountCodeInput:
    code: str = strawberry.field(description="2-40 letters, digits, '-', '_'; any case matches.")
    doctor_name: str | None = None
    discount_basis_points: int | None = strawberry.field(
        default=None, description="0-10000 (1000 = 10 %)."
    )
    discount_amount_minor: int | None = strawberry.field(
        default=None, description="Fixed discount in minor units of discountCurrency."
    )
    discount_currency: str | None = None
    valid_from: datetime | None = strawberry.field(default=None, description="With UTC offset.")
    valid_until: datetime | None = strawberry.field(default=None, description="With UTC offset.")
    max_uses: int | None = None
    service_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Restrict to these services; empty: every service."
    )
    active: bool = True


@strawberry.input(
    description="Fields to change (a field left out keeps its value; null clears it). Any "
    "discount field replaces the discount as a whole. The code itself cannot change."
)
class UpdateDiscountCodeInput:
    doctor_name: str | None = strawberry.UNSET
    discount_basis_points: int | None = strawberry.UNSET
    discount_amount_minor: int | None = strawberry.UNSET
    discount_currency: str | None = strawberry.UNSET
    valid_from: datetime | None = strawberry.UNSET
    valid_until: datetime | None = strawberry.UNSET
    max_uses: int | None = strawberry.UNSET
    service_ids: list[strawberry.ID] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class DiscountCodePayload:
    discount_code: DiscountCode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="What a code would give on one service (public: nothing else).")
class DiscountCodeCheck:
    valid: bool
    reason: DiscountCodeReason | None = strawberry.field(  # type: ignore[valid-type]
        description="Why it gives no discount; null when valid."
    )
    discount: Money | None = strawberry.field(
        description="The discount on the service's current price; null when not valid."
    )

    @classmethod
    def from_check(cls, check: svc.CodeCheck) -> DiscountCodeCheck:
        return cls(
            valid=check.valid,
            reason=check.reason,
            discount=(
                Money(amount_minor=check.discount_minor, currency=check.currency)
                if check.valid
                else None
            ),
        )
