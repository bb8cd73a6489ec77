"""The bookable catalog of a tenant: services and locations (create, update, deactivate).

Deactivating never deletes: a deactivated service or location is no longer
bookable nor listed publicly, and bookings that name it keep resolving it.
Referral/discount codes live in ``domain.discount_codes``.

Updates are partial: ``changes`` maps document field names (snake_case) to
new values; the merged document is validated like a new one (the typed
model of ``domain.documents`` plus the rules below), and only the changed
fields are written with ``$set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.collections import LOCATIONS, SERVICES
from domain.discount_codes import DiscountCodeFields, DiscountCodes
from domain.documents import LocationDocument, ServiceDocument
from domain.ids import parse_id
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.mongo_types import Database
from tenancy.naming import slugify
from tenancy.validation import check_currency, check_timezone, parse_model

MAX_DURATION_MINUTES = 24 * 60
MAX_NAME_LENGTH = 200

#: Fields ``update_service`` may change (all of ServiceDocument but id and created_at).
SERVICE_FIELDS = frozenset(
    {
        "code",
        "name",
        "description",
        "duration_minutes",
        "price_minor",
        "currency",
        "active",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "max_advance_days",
        "slot_step_minutes",
        "capacity",
    }
)
#: Fields ``create_location`` / ``update_location`` may set.
LOCATION_FIELDS = frozenset({"name", "city", "district", "timezone", "active", "availability"})
# Publicly listed: active, or written before locations had ``active``.
_LISTED = {"active": {"$ne": False}}


@dataclass
class ServiceFields:
    """A bookable service. ``price_minor`` is in minor units of ``currency``.

    The scheduling fields (minutes, days, seats) default to the rules of
    ``ServiceDocument``: no buffers, no notice, no horizon, 15-minute step, 1 seat.
    """

    name: str
    duration_minutes: int
    price_minor: int
    currency: str
    code: str | None = None
    description: str | None = None
    active: bool = True
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 0
    max_advance_days: int | None = None
    slot_step_minutes: int = 15
    capacity: int = 1


def _checked_service(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a whole service document) validated and normalised, as stored.

    Raises:
        AppError(VALIDATION_FAILED) with the input path (``["input", "slotStepMinutes"]``).
    """
    if isinstance(data.get("name"), str):
        data["name"] = data["name"].strip()
        if not 1 <= len(data["name"]) <= MAX_NAME_LENGTH:
            raise validation_error(["input", "name"], "name is required (1-200 characters)")
    duration = data.get("duration_minutes")
    if isinstance(duration, int) and not 1 <= duration <= MAX_DURATION_MINUTES:
        raise validation_error(
            ["input", "durationMinutes"], f"duration must be 1-{MAX_DURATION_MINUTES} minutes"
        )
    if isinstance(data.get("price_minor"), int) and data["price_minor"] < 0:
        raise validation_error(["input", "priceMinor"], "price cannot be negative")
    if isinstance(data.get("currency"), str):
        data["currency"] = check_currency(data["currency"], ["input", "currency"])
    if isinstance(data.get("code"), str) or data.get("code") is None:
        code = slugify(data.get("code") or data.get("name") or "")
        if not code:
            raise validation_error(["input", "code"], "code must contain letters or digits")
        data["code"] = code
    return parse_model(ServiceDocument, data).to_mongo()


def _checked_location(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a whole location document) validated and normalised, as stored.

    Raises:
        AppError(VALIDATION_FAILED) with the input path, e.g.
        ``["input", "availability", "weeklyHours"]`` for overlapping intervals.
    """
    if isinstance(data.get("name"), str):
        data["name"] = data["name"].strip()
        if not 1 <= len(data["name"]) <= MAX_NAME_LENGTH:
            raise validation_error(["input", "name"], "name is required (1-200 characters)")
    for field in ("city", "district"):
        value = data.get(field)
        if isinstance(value, str):
            data[field] = value.strip() or None
            if len(value) > MAX_NAME_LENGTH:
                raise validation_error(["input", field], f"{field} is at most 200 characters")
    if isinstance(data.get("timezone"), str):
        data["timezone"] = check_timezone(data["timezone"].strip(), ["input", "timezone"])
    return parse_model(LocationDocument, data).to_mongo()


def _changes(changes: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    unknown = set(changes) - allowed
    if unknown:  # a programming error of the caller, not of the client
        raise ValueError(f"cannot change {sorted(unknown)}")
    return dict(changes)


class CatalogService:
    """Reads and writes of the catalog in one tenant database.

    Args:
        db: the tenant's database handle (from the request context).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- services --------------------------------------------------------

    async def services(self, *, include_inactive: bool) -> list[dict[str, Any]]:
        """Services by name; only active ones unless ``include_inactive``."""
        query = {} if include_inactive else {"active": True}
        return await self.db[SERVICES].find(query).sort("name", ASCENDING).to_list(None)

    async def service(self, service_id: str) -> dict[str, Any] | None:
        """One service, active or not (bookings keep resolving deactivated ones)."""
        return await self.db[SERVICES].find_one({"_id": parse_id(service_id)})

    async def create_service(self, fields: ServiceFields) -> dict[str, Any]:
        """Add a service.

        Raises:
            AppError: VALIDATION_FAILED (with the field path), ALREADY_EXISTS (code).
        """
        doc = _checked_service(asdict(fields))
        await self._write_service(self.db[SERVICES].insert_one(doc), doc["code"])
        return doc

    async def update_service(self, service_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of a service (names: ``SERVICE_FIELDS``), validated like create.

        Bookings already made keep their own price, duration and currency.

        Raises:
            AppError: NOT_FOUND (also another tenant's id), VALIDATION_FAILED, ALREADY_EXISTS.
        """
        wanted = _changes(changes, SERVICE_FIELDS)
        current = await self.service(service_id)
        if current is None:
            raise not_found("service", service_id)
        checked = _checked_service({**current, **wanted})
        to_set = {field: checked[field] for field in wanted}
        if to_set:
            await self._write_service(
                self.db[SERVICES].update_one({"_id": current["_id"]}, {"$set": to_set}),
                checked["code"],
            )
        return await self._reloaded(SERVICES, current["_id"], "service", service_id)

    async def set_service_active(self, service_id: str, active: bool) -> dict[str, Any]:
        """Deactivate (``active=False``) or reactivate a service.

        Raises:
            AppError(NOT_FOUND).
        """
        return await self._set_active(SERVICES, "service", service_id, active)

    async def _write_service(self, write: Any, code: str) -> None:
        try:
            await write
        except DuplicateKeyError:
            raise AppError(
                ErrorCode.ALREADY_EXISTS, f"a service with code {code!r} exists", ["input", "code"]
            ) from None

    # -- locations -------------------------------------------------------

    async def locations(self, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        """Locations by name; only active ones unless ``include_inactive``."""
        query = {} if include_inactive else _LISTED
        return await self.db[LOCATIONS].find(query).sort("name", ASCENDING).to_list(None)

    async def location(self, location_id: str) -> dict[str, Any] | None:
        """One location, active or not (bookings keep resolving deactivated ones)."""
        return await self.db[LOCATIONS].find_one({"_id": parse_id(location_id)})

    async def create_location(
        self,
        name: str,
        city: str | None = None,
        district: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a location. ``fields``: ``timezone`` (IANA; None: the tenant's),
        ``availability`` (``AvailabilityRules`` as a dict; None: bookable at any
        time), ``active``.

        Raises:
            AppError(VALIDATION_FAILED) with the field path (overlapping
            intervals, unknown time zone, more than 1000 overrides, ...).
        """
        data = {
            "name": name,
            "city": city,
            "district": district,
            **_changes(fields, LOCATION_FIELDS),
        }
        doc = _checked_location(data)
        await self.db[LOCATIONS].insert_one(doc)
        return doc

    async def update_location(self, location_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of a location (names: ``LOCATION_FIELDS``), validated like create.

        ``availability`` is replaced as a whole (weekly hours and overrides).

        Raises:
            AppError: NOT_FOUND (also another tenant's id), VALIDATION_FAILED.
        """
        wanted = _changes(changes, LOCATION_FIELDS)
        current = await self.location(location_id)
        if current is None:
            raise not_found("location", location_id)
        checked = _checked_location({**current, **wanted})
        to_set = {field: checked[field] for field in wanted}
        if to_set:
            await self.db[LOCATIONS].update_one({"_id": current["_id"]}, {"$set": to_set})
        return await self._reloaded(LOCATIONS, current["_id"], "location", location_id)

    async def set_location_active(self, location_id: str, active: bool) -> dict[str, Any]:
        """Deactivate (``active=False``) or reactivate a location.

        Raises:
            AppError(NOT_FOUND).
        """
        return await self._set_active(LOCATIONS, "location", location_id, active)

    # -- referral codes (kept for the demo seed) --------------------------

    async def create_referral_code(
        self, code: str, discount_basis_points: int, doctor_name: str | None = None
    ) -> dict[str, Any]:
        """Add a referral code of a doctor (``discount_basis_points`` 1000 = 10 %).

        Raises:
            AppError: ALREADY_EXISTS when the code exists (any case), VALIDATION_FAILED.
        """
        return await DiscountCodes(self.db).create(
            DiscountCodeFields(
                code=code, discount_basis_points=discount_basis_points, doctor_name=doctor_name
            )
        )

    # -- shared ----------------------------------------------------------

    async def _set_active(
        self, collection: str, kind: str, ident: str, active: bool
    ) -> dict[str, Any]:
        doc: dict[str, Any] | None = await self.db[collection].find_one_and_update(
            {"_id": parse_id(ident)},
            {"$set": {"active": active}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise not_found(kind, ident)
        return doc

    async def _reloaded(self, collection: str, _id: Any, kind: str, ident: str) -> dict[str, Any]:
        doc = await self.db[collection].find_one({"_id": _id})
        if doc is None:  # deleted meanwhile (by an operator)
            raise not_found(kind, ident)
        return doc
