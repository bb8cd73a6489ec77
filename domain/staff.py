"""Staff members of one tenant: create, update, deactivate, list (admins).

A staff member is a person bookings can name (``createBooking(staffId)``);
one staff member is never booked twice at once (their slot claims,
``domain.slots``). They may be linked to a platform user of the same
tenant, offer some services (none listed: all), work at some locations
(none listed: all) and have their own hours (``None``: the location's).
Deactivated staff keep their bookings; new bookings cannot name them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bson import ObjectId
from pydantic import ValidationError
from pymongo import ASCENDING, ReturnDocument

from domain.collections import LOCATIONS, SERVICES, STAFF
from domain.documents import AvailabilityRules, StaffDocument
from domain.ids import parse_id
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import Tenant, User, utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page
from tenancy.validation import check_email, check_timezone

STAFF_SORT = [("name", ASCENDING), ("_id", ASCENDING)]
UserLookup = Callable[[ObjectId], Awaitable[User | None]]
_FIELDS = {"name", "email", "user_id", "service_ids", "location_ids", "availability", "timezone"}


@dataclass
class StaffFields:
    """Input of ``createStaffMember``; ``availability`` is ``AvailabilityRules``' shape."""

    name: str
    email: str | None = None
    user_id: str | None = None
    service_ids: list[str] = field(default_factory=list)
    location_ids: list[str] = field(default_factory=list)
    availability: dict[str, Any] | None = None
    timezone: str | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_availability(raw: dict[str, Any] | None, path: list[str]) -> AvailabilityRules | None:
    """Weekly hours and date overrides, validated, or VALIDATION_FAILED under ``path``.

    Beyond the model: override dates must be real calendar dates, one override per date.
    """
    if raw is None:
        return None
    try:
        rules = AvailabilityRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = [*path, *(_camel(str(part)) for part in first["loc"])]
        raise validation_error(where, f"{where[-1]}: {first['msg']}") from None
    seen = set()
    for i, override in enumerate(rules.overrides):
        where = [*path, "overrides", str(i), "date"]
        try:
            date.fromisoformat(override.date)
        except ValueError:
            raise validation_error(where, f"{override.date} is not a date") from None
        if override.date in seen:
            raise validation_error(where, f"{override.date} has two overrides")
        if override.closed and override.intervals:
            raise validation_error(where, "a closed date has no intervals")
        seen.add(override.date)
    return rules


class StaffService:
    """Staff members in one tenant database.

    Args:
        db: the tenant's database handle.
        tenant: the tenant (a linked user must belong to it).
        user_by_id: the platform store's user lookup (``PlatformStore.user_by_id``).
    """

    def __init__(self, db: Database, tenant: Tenant, user_by_id: UserLookup) -> None:
        self.db = db
        self.tenant = tenant
        self.user_by_id = user_by_id
        self.collection = db[STAFF]

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        """A staff member (active or not); ``None`` for unknown ids and other tenants' ids."""
        found: dict[str, Any] | None = await self.collection.find_one({"_id": parse_id(staff_id)})
        return found

    async def page(self, *, include_inactive: bool, first: int, after: str | None) -> Page:
        """Staff by name; inactive ones only when asked."""
        query: dict[str, Any] = {} if include_inactive else {"active": True}
        return await fetch_page(
            self.collection, query, sort_name="name", sort=STAFF_SORT, first=first, after=after
        )

    async def create(self, fields: StaffFields) -> dict[str, Any]:
        """Add a staff member.

        Raises:
            AppError: VALIDATION_FAILED (name, email, time zone, hours), NOT_FOUND
            (a user, service or location not of this tenant).
        """
        values = await self._checked(
            {
                "name": fields.name,
                "email": fields.email,
                "user_id": fields.user_id,
                "service_ids": fields.service_ids,
                "location_ids": fields.location_ids,
                "availability": fields.availability,
                "timezone": fields.timezone,
            }
        )
        doc = StaffDocument(**values).to_mongo()
        await self.collection.insert_one(doc)
        return doc

    async def update(self, staff_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the given fields (keys of :class:`StaffFields`, plus ``active``).

        A key with ``None`` clears an optional field (email, user, hours, zone).

        Raises:
            AppError: NOT_FOUND, VALIDATION_FAILED (as ``create``).
        """
        unknown = set(changes) - _FIELDS - {"active"}
        if unknown:
            raise validation_error("input", f"unknown fields: {', '.join(sorted(unknown))}")
        values = await self._checked(changes)
        if "active" in changes:
            values["active"] = bool(changes["active"])
        current = await self.get(staff_id)
        if current is None:
            raise not_found("staff member", staff_id)
        merged = StaffDocument.model_validate({**current, **values}).to_mongo()
        merged["updated_at"] = utcnow()
        updated: dict[str, Any] | None = await self.collection.find_one_and_update(
            {"_id": current["_id"]},
            {"$set": {k: v for k, v in merged.items() if k != "_id"}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise not_found("staff member", staff_id)
        return updated

    async def deactivate(self, staff_id: str) -> dict[str, Any]:
        """Stop new bookings naming this staff member; existing bookings stay as they are.

        Raises:
            AppError(NOT_FOUND).
        """
        updated: dict[str, Any] | None = await self.collection.find_one_and_update(
            {"_id": parse_id(staff_id)},
            {"$set": {"active": False, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise not_found("staff member", staff_id)
        return updated

    async def _checked(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` validated and converted to stored form (ids, models)."""
        out: dict[str, Any] = {}
        if "name" in values:
            name = (values["name"] or "").strip()
            if not 1 <= len(name) <= 200:
                raise validation_error(["input", "name"], "name is required (1-200 characters)")
            out["name"] = name
        if "email" in values:
            email = values["email"]
            out["email"] = check_email(email, ["input", "email"]) if email else None
        if "timezone" in values:
            zone = values["timezone"]
            out["timezone"] = check_timezone(zone, ["input", "timezone"]) if zone else None
        if "availability" in values:
            rules = parse_availability(values["availability"], ["input", "availability"])
            out["availability"] = rules
        if "user_id" in values:
            out["user_id"] = await self._user(values["user_id"])
        for key, collection in (("service_ids", SERVICES), ("location_ids", LOCATIONS)):
            if key in values:
                out[key] = await self._existing(collection, values[key] or [], _camel(key))
        return out

    async def _user(self, user_id: str | None) -> ObjectId | None:
        """The id of a user of THIS tenant, or NOT_FOUND (another tenant's users included)."""
        if not user_id:
            return None
        path = ["input", "userId"]
        if not ObjectId.is_valid(user_id):
            raise AppError(ErrorCode.NOT_FOUND, f"user {user_id} was not found", path)
        user = await self.user_by_id(ObjectId(user_id))
        if user is None or user.tenant_id != self.tenant.id:
            raise AppError(ErrorCode.NOT_FOUND, f"user {user_id} was not found", path)
        return user.id

    async def _existing(self, collection: str, ids: list[str], name: str) -> list[ObjectId]:
        """``ids`` as ObjectIds, each of a document of ``collection`` (one query)."""
        path = ["input", name]
        parsed = []
        for raw in dict.fromkeys(ids):
            if not ObjectId.is_valid(raw):
                raise AppError(ErrorCode.NOT_FOUND, f"{raw} was not found", path)
            parsed.append(ObjectId(raw))
        if not parsed:
            return []
        found = {
            doc["_id"]
            for doc in await self.db[collection]
            .find({"_id": {"$in": parsed}}, {"_id": 1})
            .to_list(None)
        }
        missing = [str(i) for i in parsed if i not in found]
        if missing:
            raise AppError(ErrorCode.NOT_FOUND, f"{', '.join(missing)} not found", path)
        return parsed
