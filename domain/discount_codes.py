"""Referral and discount codes of one tenant: upkeep, checks, and use at booking time.

Rules (README, "Discount codes"):

- a code is unique case-insensitively (``code_key``, a unique index); the
  code itself never changes after creation (create another one instead);
- the discount is EITHER basis points (0-10000, 1000 = 10 %, rounded half up
  in minor units) OR a fixed amount in minor units of one currency, never
  more than the price, refused for a service priced in another currency;
- ``valid_from`` (inclusive) / ``valid_until`` (exclusive), UTC, each
  optional, are compared with the time the booking is made;
- ``max_uses`` (optional) caps the bookings made with the code: each use is
  one conditional ``$inc`` that only matches while ``uses < max_uses``, so
  concurrent bookings never exceed the cap; a booking that then fails gives
  its use back, a cancelled booking does not (``uses`` counts the bookings
  made with the code, whatever became of them);
- ``service_ids`` (optional) restricts the code to some services;
- ``doctor_name`` and ``uses`` are for the tenant's staff only: the public
  check answers valid/reason/discount, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.booking_requests import utc_time
from domain.booking_rules import discount_minor
from domain.collections import REFERRAL_CODES, SERVICES
from domain.documents import ReferralCodeDocument, code_key
from domain.ids import parse_id
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page
from tenancy.validation import check_currency, parse_model

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}")  # 2-40 characters, fullmatch
MAX_DOCTOR_NAME = 200
MAX_SERVICES = 500
_REDEEM_ATTEMPTS = 3
_SORT = [("code_key", ASCENDING), ("_id", ASCENDING)]

#: Fields ``update`` may change (the code itself is fixed at creation).
UPDATABLE_FIELDS = frozenset(
    {
        "doctor_name",
        "discount_basis_points",
        "discount_amount_minor",
        "discount_currency",
        "valid_from",
        "valid_until",
        "max_uses",
        "service_ids",
        "active",
    }
)
_DISCOUNT_FIELDS = ("discount_basis_points", "discount_amount_minor", "discount_currency")


class CodeReason(StrEnum):
    """Why a code gives no discount on a service (the public check's ``reason``)."""

    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    NOT_FOR_SERVICE = "not_for_service"
    CURRENCY_MISMATCH = "currency_mismatch"
    USED_UP = "used_up"


_MESSAGES = {
    CodeReason.UNKNOWN: "this code is unknown",
    CodeReason.INACTIVE: "this code is no longer active",
    CodeReason.NOT_YET_VALID: "this code is not valid yet",
    CodeReason.EXPIRED: "this code has expired",
    CodeReason.NOT_FOR_SERVICE: "this code does not apply to this service",
    CodeReason.CURRENCY_MISMATCH: "this code's fixed discount is in another currency than "
    "the service's price",
    CodeReason.USED_UP: "this code has been used as often as it may be",
}


@dataclass
class DiscountCodeFields:
    """A new code. Give ``discount_basis_points`` OR ``discount_amount_minor`` +
    ``discount_currency``; datetimes must carry a UTC offset."""

    code: str
    doctor_name: str | None = None
    discount_basis_points: int | None = None
    discount_amount_minor: int | None = None
    discount_currency: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses: int | None = None
    service_ids: list[str] = field(default_factory=list)
    active: bool = True


@dataclass(frozen=True)
class CodeCheck:
    """What a code would give on one service: ``reason`` is None when it is valid.

    ``discount_minor`` is in minor units of ``currency`` (the service's).
    """

    reason: CodeReason | None
    discount_minor: int
    currency: str

    @property
    def valid(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class AppliedDiscount:
    """A discount counted against its code for one booking (or none).

    ``booking_fields`` are stored on the booking (the code as it was used).
    """

    discount_minor: int = 0
    code: str | None = None
    booking_fields: dict[str, Any] = field(default_factory=dict)
    code_id: Any = None


NO_DISCOUNT = AppliedDiscount(
    booking_fields={"referral_code": None, "discount_basis_points": 0, "discount_code_id": None}
)


def reason_for(
    code: Mapping[str, Any] | None, service: Mapping[str, Any], now: datetime
) -> CodeReason | None:
    """Why ``code`` (a stored document) gives no discount on ``service`` at ``now``; None: it does.

    Pure: no database access. Checks in this order: unknown, inactive,
    validity window, service restriction, currency, usage limit.
    """
    if code is None:
        return CodeReason.UNKNOWN
    if not code.get("active", True):
        return CodeReason.INACTIVE
    if code.get("valid_from") is not None and now < code["valid_from"]:
        return CodeReason.NOT_YET_VALID
    if code.get("valid_until") is not None and now >= code["valid_until"]:
        return CodeReason.EXPIRED
    restricted = code.get("service_ids") or []
    if restricted and service["_id"] not in restricted:
        return CodeReason.NOT_FOR_SERVICE
    if (
        code.get("discount_amount_minor") is not None
        and code.get("discount_currency") != (service["currency"])
    ):
        return CodeReason.CURRENCY_MISMATCH
    limit = code.get("max_uses")
    if limit is not None and int(code.get("uses") or 0) >= int(limit):
        return CodeReason.USED_UP
    return None


def discount_on(code: Mapping[str, Any], price_minor: int) -> int:
    """The discount ``code`` gives on ``price_minor`` (minor units, never more than the price)."""
    amount = code.get("discount_amount_minor")
    if amount is not None:
        return min(int(amount), price_minor)
    return min(
        discount_minor(price_minor, int(code.get("discount_basis_points") or 0)), price_minor
    )


class DiscountCodes:
    """Referral/discount codes in one tenant database.

    Args:
        db: the tenant's database handle (from the request context).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.collection = db[REFERRAL_CODES]

    # -- reads -----------------------------------------------------------

    async def get(self, code_id: str) -> dict[str, Any] | None:
        """One code by id (None also for another tenant's id)."""
        return await self.collection.find_one({"_id": parse_id(code_id)})

    async def find(self, code: str) -> dict[str, Any] | None:
        """One code by its text, any case (documents written before ``code_key`` included)."""
        key = code_key(code)
        return await self.collection.find_one(
            {"$or": [{"code_key": key}, {"code_key": None, "code": key}]}
        )

    async def page(self, first: int, after: str | None, *, include_inactive: bool) -> Page:
        """Codes in code order, ``first`` after the cursor ``after``."""
        query: dict[str, Any] = {} if include_inactive else {"active": {"$ne": False}}
        return await fetch_page(
            self.collection, query, sort_name="code", sort=_SORT, first=first, after=after
        )

    # -- upkeep ----------------------------------------------------------

    async def create(self, fields: DiscountCodeFields) -> dict[str, Any]:
        """Add a code.

        Raises:
            AppError: VALIDATION_FAILED (with the field path), NOT_FOUND (a
            service id of ``service_ids``), ALREADY_EXISTS (the code, in any case).
        """
        text = fields.code.strip()
        if not CODE_PATTERN.fullmatch(text):
            raise validation_error(
                ["input", "code"], "code must be 2-40 letters, digits, '-' or '_' (e.g. DRALI10)"
            )
        data = asdict(fields)
        data["code"] = text.upper()
        if data["discount_basis_points"] is None and data["discount_amount_minor"] is None:
            data["discount_basis_points"] = 0
        doc = await self._checked(data)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            raise AppError(
                ErrorCode.ALREADY_EXISTS, f"code {doc['code']!r} exists", ["input", "code"]
            ) from None
        return doc

    async def update(self, code_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of a code (names: ``UPDATABLE_FIELDS``), validated like create.

        Giving any discount field replaces the discount as a whole (basis
        points, or amount + currency). ``uses`` is never written here, so a
        concurrent booking's count is not lost.

        Raises:
            AppError: NOT_FOUND (also another tenant's id), VALIDATION_FAILED.
        """
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:  # a programming error of the caller
            raise ValueError(f"cannot change {sorted(unknown)}")
        current = await self.get(code_id)
        if current is None:
            raise not_found("discount code", code_id)
        wanted = dict(changes)
        if any(name in wanted for name in _DISCOUNT_FIELDS):
            wanted = {"discount_basis_points": None, **wanted}
            wanted.setdefault("discount_amount_minor", None)
            wanted.setdefault("discount_currency", None)
            if wanted["discount_basis_points"] is None and wanted["discount_amount_minor"] is None:
                wanted["discount_basis_points"] = 0
        checked = await self._checked({**current, **wanted})
        to_set = {name: checked[name] for name in wanted}
        if to_set:
            await self.collection.update_one({"_id": current["_id"]}, {"$set": to_set})
        updated = await self.collection.find_one({"_id": current["_id"]})
        if updated is None:
            raise not_found("discount code", code_id)
        return updated

    async def set_active(self, code_id: str, active: bool) -> dict[str, Any]:
        """Deactivate (``active=False``) or reactivate a code.

        Raises:
            AppError(NOT_FOUND).
        """
        doc: dict[str, Any] | None = await self.collection.find_one_and_update(
            {"_id": parse_id(code_id)},
            {"$set": {"active": active}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise not_found("discount code", code_id)
        return doc

    async def _checked(self, data: dict[str, Any]) -> dict[str, Any]:
        """A whole code document validated and normalised, as stored.

        Raises:
            AppError: VALIDATION_FAILED, NOT_FOUND (service ids).
        """
        name = data.get("doctor_name")
        if isinstance(name, str):
            data["doctor_name"] = name.strip() or None
            if len(name) > MAX_DOCTOR_NAME:
                raise validation_error(["input", "doctorName"], "at most 200 characters")
        points = data.get("discount_basis_points")
        if points is not None and not 0 <= points <= 10_000:
            raise validation_error(
                ["input", "discountBasisPoints"], "basis points must be 0-10000 (1000 = 10 %)"
            )
        amount = data.get("discount_amount_minor")
        if amount is not None:
            if points:
                raise validation_error(
                    ["input", "discountAmountMinor"],
                    "give basis points or a fixed amount, not both",
                )
            data["discount_basis_points"] = 0
            if amount < 1:
                raise validation_error(
                    ["input", "discountAmountMinor"], "a fixed discount is at least 1 minor unit"
                )
            if data.get("discount_currency") is None:
                raise validation_error(
                    ["input", "discountCurrency"], "a fixed discount needs its currency"
                )
        if data.get("discount_currency") is not None:
            if amount is None:
                raise validation_error(
                    ["input", "discountAmountMinor"], "a currency needs a fixed amount"
                )
            data["discount_currency"] = check_currency(
                data["discount_currency"], ["input", "discountCurrency"]
            )
        for name in ("valid_from", "valid_until"):
            value = data.get(name)
            if value is not None:
                camel = "validFrom" if name == "valid_from" else "validUntil"
                data[name] = utc_time(value, ["input", camel])
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end <= start:
            raise validation_error(["input", "validUntil"], "validUntil must be after validFrom")
        max_uses = data.get("max_uses")
        if max_uses is not None and max_uses < 1:
            raise validation_error(["input", "maxUses"], "maxUses is at least 1 (or none)")
        data["service_ids"] = await self._service_ids(data.get("service_ids") or [])
        return parse_model(ReferralCodeDocument, data).to_mongo()

    async def _service_ids(self, ids: list[Any]) -> list[Any]:
        """The stored ids of ``ids``, each a service of this tenant.

        Raises:
            AppError: VALIDATION_FAILED (too many), NOT_FOUND (``["input", "serviceIds", i]``).
        """
        if len(ids) > MAX_SERVICES:
            raise validation_error(["input", "serviceIds"], f"at most {MAX_SERVICES} services")
        parsed = [parse_id(i) if isinstance(i, str) else i for i in ids]
        unique = list(dict.fromkeys(parsed))
        found = {
            d["_id"] async for d in self.db[SERVICES].find({"_id": {"$in": unique}}, {"_id": 1})
        }
        for index, value in enumerate(parsed):
            if value not in found:
                raise AppError(
                    ErrorCode.NOT_FOUND,
                    f"service {value} was not found",
                    ["input", "serviceIds", str(index)],
                )
        return unique

    # -- checks and use --------------------------------------------------

    async def check(self, code: str, service_id: str) -> CodeCheck:
        """What ``code`` would give on a bookable service now (the public check).

        Raises:
            AppError(NOT_FOUND) when the service is unknown or not bookable.
        """
        service = await self.db[SERVICES].find_one({"_id": parse_id(service_id)})
        if service is None or not service.get("active", True):
            raise AppError(
                ErrorCode.NOT_FOUND, "service was not found or is not bookable", ["serviceId"]
            )
        doc = await self.find(code) if code.strip() else None
        reason = reason_for(doc, service, utcnow())
        discount = (
            0 if reason is not None or doc is None else discount_on(doc, service["price_minor"])
        )
        return CodeCheck(reason=reason, discount_minor=discount, currency=service["currency"])

    async def redeem(self, code: str | None, service: Mapping[str, Any]) -> AppliedDiscount:
        """Count one use of ``code`` for a booking of ``service``; ``NO_DISCOUNT`` without a code.

        The use is one conditional ``$inc`` (``uses < max_uses`` when there is
        a limit), so of concurrent bookings at most ``max_uses`` succeed. The
        caller gives the use back (``give_back``) if the booking then fails.

        Raises:
            AppError(VALIDATION_FAILED) on ``["input", "referralCode"]``; the
            message says why (unknown, expired, used up, ...).
        """
        if not code or not code.strip():
            return NO_DISCOUNT
        for _ in range(_REDEEM_ATTEMPTS):
            doc = await self.find(code)
            reason = reason_for(doc, service, utcnow())
            if reason is not None or doc is None:
                raise validation_error(
                    ["input", "referralCode"], _MESSAGES[reason or CodeReason.UNKNOWN]
                )
            limit = doc.get("max_uses")
            condition: dict[str, Any] = {
                "_id": doc["_id"],
                "active": {"$ne": False},
                "max_uses": limit,
            }
            if limit is not None:
                condition["$or"] = [{"uses": {"$lt": limit}}, {"uses": {"$exists": False}}]
            counted = await self.collection.update_one(condition, {"$inc": {"uses": 1}})
            if counted.modified_count:
                points = int(doc.get("discount_basis_points") or 0)
                return AppliedDiscount(
                    discount_minor=discount_on(doc, int(service["price_minor"])),
                    code=doc["code"],
                    booking_fields={
                        "referral_code": doc["code"],
                        "discount_basis_points": points,
                        "discount_code_id": doc["_id"],
                    },
                    code_id=doc["_id"],
                )
            # Used up, deactivated or its limit changed meanwhile: look again.
        raise validation_error(["input", "referralCode"], _MESSAGES[CodeReason.USED_UP])

    async def give_back(self, applied: AppliedDiscount) -> None:
        """Return the use ``redeem`` counted, for a booking that was not made."""
        if applied.code_id is None:
            return
        await self.collection.update_one(
            {"_id": applied.code_id, "uses": {"$gt": 0}}, {"$inc": {"uses": -1}}
        )


def message_for(reason: CodeReason) -> str:
    """A sentence for ``reason`` (what a booking with that code is refused with)."""
    return _MESSAGES[reason]
