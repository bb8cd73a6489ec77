"""The bookable catalog of a tenant: services, locations, referral codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from domain.collections import LOCATIONS, REFERRAL_CODES, SERVICES
from domain.documents import LocationDocument, ReferralCodeDocument, ServiceDocument
from domain.ids import parse_id
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.mongo_types import Database
from tenancy.naming import slugify
from tenancy.validation import check_currency

MAX_DURATION_MINUTES = 24 * 60


@dataclass
class ServiceFields:
    """A bookable service. ``price_minor`` is in minor units of ``currency``."""

    name: str
    duration_minutes: int
    price_minor: int
    currency: str
    code: str | None = None
    description: str | None = None
    active: bool = True


class CatalogService:
    """Reads and writes of the catalog in one tenant database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def services(self, *, include_inactive: bool) -> list[dict[str, Any]]:
        query = {} if include_inactive else {"active": True}
        return await self.db[SERVICES].find(query).sort("name", ASCENDING).to_list(None)

    async def service(self, service_id: str) -> dict[str, Any] | None:
        return await self.db[SERVICES].find_one({"_id": parse_id(service_id)})

    async def create_service(self, fields: ServiceFields) -> dict[str, Any]:
        """Add a service.

        Raises:
            AppError: VALIDATION_FAILED, ALREADY_EXISTS (code).
        """
        name = fields.name.strip()
        if not 1 <= len(name) <= 200:
            raise validation_error(["input", "name"], "name is required (1-200 characters)")
        if not 1 <= fields.duration_minutes <= MAX_DURATION_MINUTES:
            raise validation_error(
                ["input", "durationMinutes"], f"duration must be 1-{MAX_DURATION_MINUTES} minutes"
            )
        if fields.price_minor < 0:
            raise validation_error(["input", "priceMinor"], "price cannot be negative")
        code = slugify(fields.code or name)
        if not code:
            raise validation_error(["input", "code"], "code must contain letters or digits")
        doc = ServiceDocument(
            code=code,
            name=name,
            description=fields.description,
            duration_minutes=fields.duration_minutes,
            price_minor=fields.price_minor,
            currency=check_currency(fields.currency),
            active=fields.active,
        ).to_mongo()
        try:
            await self.db[SERVICES].insert_one(doc)
        except DuplicateKeyError:
            raise AppError(
                ErrorCode.ALREADY_EXISTS, f"a service with code {code!r} exists", ["input", "code"]
            ) from None
        return doc

    async def create_location(
        self, name: str, city: str | None, district: str | None
    ) -> dict[str, Any]:
        """Add a location (a bookable place)."""
        doc = LocationDocument(name=name.strip(), city=city, district=district).to_mongo()
        await self.db[LOCATIONS].insert_one(doc)
        return doc

    async def create_referral_code(
        self, code: str, discount_basis_points: int, doctor_name: str | None = None
    ) -> dict[str, Any]:
        """Add a referral/discount code (``discount_basis_points`` 1000 = 10 %).

        Raises:
            AppError(ALREADY_EXISTS) when the code exists.
        """
        doc = ReferralCodeDocument(
            code=code.strip().upper(),
            doctor_name=doctor_name,
            discount_basis_points=discount_basis_points,
        ).to_mongo()
        try:
            await self.db[REFERRAL_CODES].insert_one(doc)
        except DuplicateKeyError:
            raise AppError(
                ErrorCode.ALREADY_EXISTS, f"referral code {doc['code']!r} exists", ["input", "code"]
            ) from None
        return doc

    async def locations(self) -> list[dict[str, Any]]:
        return await self.db[LOCATIONS].find({}).sort("name", ASCENDING).to_list(None)

    async def location(self, location_id: str) -> dict[str, Any] | None:
        return await self.db[LOCATIONS].find_one({"_id": parse_id(location_id)})

    async def active_referral_code(self, code: str) -> dict[str, Any] | None:
        return await self.db[REFERRAL_CODES].find_one(
            {"code": code.strip().upper(), "active": True}
        )
