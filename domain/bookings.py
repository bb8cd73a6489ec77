"""Bookings of one tenant: create (idempotent), transitions, reschedule, page.

Double booking is impossible by construction: each booking with a
location claims one ``booking_slots`` document per ``SLOT_MINUTES`` cell
it covers, under a unique (resource, slot) index; of two overlapping
creates exactly one inserts all its cells. No multi-document transaction
is needed (the brief: correctness must not depend on transactions).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.booking_requests import (
    SORTS,
    BookingFilter,
    BookingRequest,
    BookingSort,
    CreateResult,
    InlineCustomer,
    appointment_time,
    utc_time,
)
from domain.booking_rules import (
    OPEN_STATUSES,
    RELEASING_STATUSES,
    TRANSITIONS,
    BookingAction,
    BookingStatus,
    discount_minor,
    slot_starts,
)
from domain.catalog import CatalogService
from domain.collections import ACTIVITY_LOG, BOOKINGS, COUNTERS
from domain.customers import COUNTER as CUSTOMERS_COUNTER
from domain.customers import CustomerFields, CustomerService
from domain.documents import ActivityEntry, BookingDocument, StatusChange
from domain.ids import parse_id
from domain.slots import claim_slots, location_resource, release_slots
from tenancy import quota
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import Tenant, utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page

MAX_IDEMPOTENCY_KEY_LENGTH = 200
_CONFIRMATION_ATTEMPTS = 5
# For messages: "a cancelled booking cannot be completed".
_DONE = {
    BookingAction.CONFIRM: "confirmed",
    BookingAction.SCHEDULE: "scheduled",
    BookingAction.START: "started",
    BookingAction.COMPLETE: "completed",
    BookingAction.CANCEL: "cancelled",
    BookingAction.NO_SHOW: "marked no-show",
}


class BookingService:
    """Booking operations on one tenant database.

    Args:
        db: the tenant's database handle (from the request context).
        tenant: the tenant record (settings, limits).
        actor: who acts, for the status history (user id or ``"anonymous"``).
    """

    def __init__(self, db: Database, tenant: Tenant, actor: str) -> None:
        self.db = db
        self.tenant = tenant
        self.actor = actor
        self.bookings = db[BOOKINGS]
        self.catalog = CatalogService(db)
        self.customers = CustomerService(db, tenant)

    # -- reads -----------------------------------------------------------

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return await self.bookings.find_one({"_id": parse_id(booking_id)})

    async def page(
        self, flt: BookingFilter, sort: BookingSort, first: int, after: str | None
    ) -> Page:
        query: dict[str, Any] = {}
        if flt.statuses:
            query["status"] = {"$in": [str(s) for s in flt.statuses]}
        if flt.starts_from or flt.starts_before:
            # Bounds are compared exactly: truncating them to the minute would move them.
            window: dict[str, Any] = {}
            if flt.starts_from:
                window["$gte"] = utc_time(flt.starts_from, ["filter", "startsFrom"])
            if flt.starts_before:
                window["$lt"] = utc_time(flt.starts_before, ["filter", "startsBefore"])
            query["starts_at"] = window
        if flt.customer_id:
            query["customer_id"] = parse_id(flt.customer_id)
        if flt.service_id:
            query["service_id"] = parse_id(flt.service_id)
        return await fetch_page(
            self.bookings, query, sort_name=str(sort), sort=SORTS[sort], first=first, after=after
        )

    # -- create ----------------------------------------------------------

    async def create(self, request: BookingRequest, *, allow_customer_id: bool) -> CreateResult:
        """Create a booking, or return the one an idempotency key already made.

        Raises:
            AppError: VALIDATION_FAILED, NOT_FOUND (service, customer, location),
            SLOT_TAKEN, IDEMPOTENCY_KEY_REUSED, PLAN_LIMIT_EXCEEDED (new inline customer),
            FORBIDDEN (``customerId`` from a caller without customer access).
        """
        starts_at = appointment_time(request.starts_at, "startsAt")
        if request.customer_id is not None and not allow_customer_id:
            # Before the replay: an idempotency key must not reveal a staff booking.
            raise AppError(
                ErrorCode.FORBIDDEN, "booking for an existing customer needs customers.read"
            )
        key = request.idempotency_key
        fingerprint = request.fingerprint()
        if key is not None:
            if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
                raise validation_error(
                    ["input", "idempotencyKey"], f"key must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} chars"
                )
            existing = await self.bookings.find_one({"idempotency_key": key})
            if existing is not None:
                return self._replay(existing, fingerprint)

        service = await self.catalog.service(request.service_id)
        if service is None or not service.get("active", True):
            raise AppError(
                ErrorCode.NOT_FOUND,
                "service was not found or is not bookable",
                ["input", "serviceId"],
            )
        location = None
        if request.location_id:
            location = await self.catalog.location(request.location_id)
            if location is None:
                raise AppError(
                    ErrorCode.NOT_FOUND, "location was not found", ["input", "locationId"]
                )
        discount_bp, referral = 0, None
        if request.referral_code:
            code = await self.catalog.active_referral_code(request.referral_code)
            if code is None:
                raise validation_error(
                    ["input", "referralCode"], "referral code is unknown or no longer active"
                )
            discount_bp, referral = int(code["discount_basis_points"]), code["code"]
        customer, new_customer = await self._customer_for(
            request, allow_customer_id=allow_customer_id
        )
        try:
            return await self._create_booking(
                request,
                customer,
                service,
                location,
                starts_at,
                discount_bp,
                referral,
                key,
                fingerprint,
            )
        except AppError:
            if new_customer:
                await self._forget_unused_customer(customer["_id"])
            raise

    async def _create_booking(
        self,
        request: BookingRequest,
        customer: dict[str, Any],
        service: dict[str, Any],
        location: dict[str, Any] | None,
        starts_at: datetime,
        discount_bp: int,
        referral: str | None,
        key: str | None,
        fingerprint: str,
    ) -> CreateResult:
        price = int(service["price_minor"])
        discount = discount_minor(price, discount_bp)
        now = utcnow()
        duration = int(service["duration_minutes"])
        doc = BookingDocument(
            customer_id=customer["_id"],
            service_id=service["_id"],
            location_id=location["_id"] if location else None,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=duration),
            duration_minutes=duration,
            timezone=self.tenant.settings.timezone,
            currency=service["currency"],
            price_minor=price,
            discount_minor=discount,
            final_price_minor=price - discount,
            referral_code=referral,
            discount_basis_points=discount_bp,
            notes=request.notes,
            status_history=[
                StatusChange(status=BookingStatus.PENDING.value, at=now, by=self.actor)
            ],
            request_hash=fingerprint,
            idempotency_key=key,
            created_by=self.actor,
            created_at=now,
            updated_at=now,
        ).to_mongo()
        inserted = await self._insert_with_confirmation_number(doc)
        if inserted is not None:
            return inserted
        try:
            await self._claim(doc["_id"], doc["location_id"], slot_starts(starts_at, duration))
        except AppError:
            await self.bookings.delete_one({"_id": doc["_id"]})
            raise
        await self._log("booking.created", doc["_id"])
        return CreateResult(booking=doc, replayed=False)

    def _replay(self, existing: dict[str, Any], fingerprint: str) -> CreateResult:
        if existing.get("request_hash") != fingerprint:
            raise AppError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this idempotency key was used for a different booking request; use a new key",
                ["input", "idempotencyKey"],
            )
        return CreateResult(booking=existing, replayed=True)

    async def _insert_with_confirmation_number(self, doc: dict[str, Any]) -> CreateResult | None:
        """Insert ``doc`` with a fresh confirmation number.

        Returns a replay result when the idempotency key won in another request, else ``None``.
        """
        for _ in range(_CONFIRMATION_ATTEMPTS):
            doc["confirmation_number"] = await self._next_confirmation_number(doc["created_at"])
            try:
                await self.bookings.insert_one(doc)
                return None
            except DuplicateKeyError:
                key = doc.get("idempotency_key")
                if key is not None:
                    existing = await self.bookings.find_one({"idempotency_key": key})
                    if existing is not None:
                        return self._replay(existing, doc["request_hash"])
        raise AppError(ErrorCode.INTERNAL_ERROR, "could not allocate a confirmation number; retry")

    async def _next_confirmation_number(self, at: datetime) -> str:
        """``<PREFIX>-<YYMM>-<sequence>``, e.g. ``OM-2508-00042`` (the clinics' format)."""
        counter = await self.db[COUNTERS].find_one_and_update(
            {"_id": "confirmation_number"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if counter is None:  # an upsert that returns the AFTER document always has one
            raise AppError(ErrorCode.INTERNAL_ERROR, "the confirmation counter was not returned")
        prefix = self.tenant.settings.confirmation_prefix
        return f"{prefix}-{at:%y%m}-{counter['value']:05d}"

    async def _forget_unused_customer(self, customer_id: Any) -> None:
        """Remove a customer this request created for a booking that then failed.

        Only while no booking references it (a concurrent request may have
        matched it by email meanwhile); gives the plan-limit unit back.
        """
        if await self.bookings.count_documents({"customer_id": customer_id}, limit=1):
            return
        removed = await self.customers.collection.delete_one({"_id": customer_id})
        if removed.deleted_count:
            await quota.release(self.db, CUSTOMERS_COUNTER)

    async def _customer_for(
        self, request: BookingRequest, *, allow_customer_id: bool
    ) -> tuple[dict[str, Any], bool]:
        """The booking's customer, and whether this call created it."""
        if (request.customer_id is None) == (request.customer is None):
            raise validation_error(
                ["input", "customerId"], "give either customerId or customer details"
            )
        if request.customer_id is not None:
            if not allow_customer_id:
                raise AppError(
                    ErrorCode.FORBIDDEN, "booking for an existing customer needs customers.read"
                )
            customer = await self.customers.get(request.customer_id)
            if customer is None:
                raise AppError(
                    ErrorCode.NOT_FOUND, "customer was not found", ["input", "customerId"]
                )
            return customer, False
        assert request.customer is not None
        existing = await self.customers.find_by_email(request.customer.email)
        if existing is not None and existing.get("status") != "deleted":
            return existing, False
        try:
            created = await self.customers.create(
                CustomerFields(
                    name=request.customer.name,
                    email=request.customer.email,
                    phone=request.customer.phone,
                )
            )
            return created, True
        except AppError as exc:
            if exc.code != ErrorCode.ALREADY_EXISTS:
                raise
            found = await self.customers.find_by_email(request.customer.email)
            if found is None:
                raise
            return found, False

    # -- slots -----------------------------------------------------------

    async def _claim(
        self, booking_id: ObjectId, location_id: Any, cells: list[datetime]
    ) -> list[datetime]:
        """Claim slot cells at a location (``domain.slots``); returns the cells inserted.

        Raises:
            AppError(SLOT_TAKEN) when another booking holds any of the cells.
        """
        if location_id is None:
            return []
        return await claim_slots(self.db, booking_id, location_resource(location_id), cells)

    # -- transitions -----------------------------------------------------

    async def transition(
        self, booking_id: str, action: BookingAction, reason: str | None = None
    ) -> dict[str, Any]:
        """Apply a status-machine action with one conditional update.

        Raises:
            AppError: NOT_FOUND, INVALID_TRANSITION (names the current status),
            VALIDATION_FAILED (cancel without a reason).
        """
        allowed, target = TRANSITIONS[action]
        if action == BookingAction.CANCEL and not (reason and reason.strip()):
            raise validation_error(["input", "reason"], "a cancellation needs a reason")
        now = utcnow()
        changes: dict[str, Any] = {"status": target.value, "updated_at": now}
        if action == BookingAction.CANCEL:
            changes["cancel_reason"] = reason.strip() if reason else None
        entry = StatusChange(status=target.value, at=now, by=self.actor, reason=reason).model_dump()
        doc = await self.bookings.find_one_and_update(
            {"_id": parse_id(booking_id), "status": {"$in": [s.value for s in allowed]}},
            {"$set": changes, "$push": {"status_history": entry}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            current = await self.bookings.find_one({"_id": parse_id(booking_id)}, {"status": 1})
            if current is None:
                raise not_found("booking", booking_id)
            raise AppError(
                ErrorCode.INVALID_TRANSITION,
                f"a {current['status']} booking cannot be {_DONE[action]}; "
                f"allowed from: {', '.join(sorted(s.value for s in allowed))}",
            )
        if target in RELEASING_STATUSES:
            await release_slots(self.db, doc["_id"])
        await self._log(f"booking.{action.value}", doc["_id"], reason)
        return doc

    async def reschedule(
        self, booking_id: str, starts_at: datetime, location_id: str | None = None
    ) -> dict[str, Any]:
        """Move an open booking to a new time (and optionally location).

        New cells are claimed before old ones are released, so the booking
        never loses its slot; cells both times share are kept.

        Raises:
            AppError: NOT_FOUND, INVALID_TRANSITION (closed booking), SLOT_TAKEN,
            VALIDATION_FAILED, or a conflict if the booking changed meanwhile.
        """
        starts_at = appointment_time(starts_at, "startsAt")
        doc = await self.get(booking_id)
        if doc is None:
            raise not_found("booking", booking_id)
        if doc["status"] not in OPEN_STATUSES:
            raise AppError(
                ErrorCode.INVALID_TRANSITION, f"a {doc['status']} booking cannot be rescheduled"
            )
        new_location = doc.get("location_id")
        if location_id is not None:
            location = await self.catalog.location(location_id)
            if location is None:
                raise AppError(
                    ErrorCode.NOT_FOUND, "location was not found", ["input", "locationId"]
                )
            new_location = location["_id"]
        duration = int(doc["duration_minutes"])
        old_cells = (
            set(slot_starts(doc["starts_at"], duration)) if doc.get("location_id") else set()
        )
        new_cells = set(slot_starts(starts_at, duration)) if new_location else set()
        same_resource = new_location == doc.get("location_id")
        to_claim = sorted(new_cells - old_cells if same_resource else new_cells)
        claimed = await self._claim(doc["_id"], new_location, to_claim)
        now = utcnow()
        updated = await self.bookings.find_one_and_update(
            {  # unchanged since read: time, place and openness (two reschedules race here)
                "_id": doc["_id"],
                "starts_at": doc["starts_at"],
                "location_id": doc.get("location_id"),
                "status": {"$in": list(OPEN_STATUSES)},
            },
            {
                "$set": {
                    "starts_at": starts_at,
                    "ends_at": starts_at + timedelta(minutes=duration),
                    "location_id": new_location,
                    "updated_at": now,
                },
                "$push": {
                    "status_history": StatusChange(
                        status=doc["status"], at=now, by=self.actor, reason="rescheduled"
                    ).model_dump()
                },
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            await release_slots(self.db, doc["_id"], location_resource(new_location), claimed)
            raise AppError(
                ErrorCode.INVALID_TRANSITION, "the booking changed meanwhile; reload and retry"
            )
        stale = sorted(old_cells - new_cells) if same_resource else sorted(old_cells)
        if stale:
            resource = location_resource(doc["location_id"])
            await release_slots(self.db, doc["_id"], resource, stale)
        await self._log("booking.rescheduled", doc["_id"])
        return updated

    async def _log(self, action: str, booking_id: ObjectId, reason: str | None = None) -> None:
        entry = ActivityEntry(actor=self.actor, action=action, booking_id=booking_id, reason=reason)
        await self.db[ACTIVITY_LOG].insert_one(entry.to_mongo())


__all__ = [  # the service with the request types its callers pass
    "BookingFilter",
    "BookingRequest",
    "BookingService",
    "BookingSort",
    "CreateResult",
    "InlineCustomer",
]
