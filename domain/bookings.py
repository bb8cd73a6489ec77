"""Bookings of one tenant: create (idempotent), transitions, reschedule, page.

Double booking is impossible by construction: each booking claims, on each
resource it uses (location, staff member, else its service), one
``booking_slots`` document per ``SLOT_MINUTES`` cell its span covers
(buffers included; ``domain.slots``), under a unique (resource, slot)
index; of two overlapping creates of the last seat exactly one inserts all
its cells. No multi-document transaction is needed (the brief: correctness
must not depend on transactions). Start times obey the service's and the
resources' scheduling rules (``domain.availability_service.check_start``).

Every write that changes what a customer was told (create, confirm,
reschedule, cancel, no-show) queues its messages the outbox way
(``domain.booking_outbox``): stage them, make the write conditional on the
booking's ``version`` (which it increments) and record their keys in it,
then promote them. A write that does not happen leaves nothing to send; a
write that happened always gets its messages (``domain.outbox``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.availability import ServiceTiming
from domain.availability_service import (
    AvailabilityService,
    booking_resources,
    check_start,
    display_zone,
    resource_bases,
)
from domain.booking_messages import MessageKind, Related
from domain.booking_outbox import BookingOutbox, OutboxSetup, merge_updates
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
    slot_starts,
)
from domain.catalog import CatalogService
from domain.collections import ACTIVITY_LOG, BOOKING_SLOTS, BOOKINGS, COUNTERS, STAFF
from domain.customers import COUNTER as CUSTOMERS_COUNTER
from domain.customers import CustomerFields, CustomerService
from domain.discount_codes import AppliedDiscount, DiscountCodes
from domain.documents import ActivityEntry, BookingDocument, StatusChange
from domain.ids import parse_id
from domain.outbox import Staged
from domain.slots import claim_seat, release_slots
from tenancy import quota
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import Tenant, utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page

MAX_IDEMPOTENCY_KEY_LENGTH = 200
_CONFIRMATION_ATTEMPTS = 5
#: A transition re-reads the booking this many times when another write changed it meanwhile.
_TRANSITION_ATTEMPTS = 5
#: The message each action sends (other actions send nothing).
ACTION_MESSAGES = {
    BookingAction.CONFIRM: MessageKind.BOOKING_CONFIRMED,
    BookingAction.CANCEL: MessageKind.BOOKING_CANCELLED,
    BookingAction.NO_SHOW: MessageKind.BOOKING_NO_SHOW,
}
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
        outbox: how to queue the customers' messages (the platform's due
            marker and the policy; ``notifications.wiring.outbox_setup``).
            Required: a service that could not mark its tenant would queue
            messages no relay looks for.
        clock: the current time (UTC) for the notice and horizon rules; the
            demo seeds its past bookings with an earlier clock.
    """

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        actor: str,
        outbox: OutboxSetup,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tenant = tenant
        self.actor = actor
        self.clock = clock
        self.notes = BookingOutbox.of(db, tenant, outbox)
        self.bookings = db[BOOKINGS]
        self.catalog = CatalogService(db)
        self.codes = DiscountCodes(db)
        self.customers = CustomerService(db, tenant)
        self.availability = AvailabilityService(db, tenant, clock)

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
            AppError: VALIDATION_FAILED, NOT_FOUND (service, customer, location,
            staff member), TOO_SOON, TOO_FAR, OUTSIDE_AVAILABILITY, SLOT_TAKEN,
            IDEMPOTENCY_KEY_REUSED, PLAN_LIMIT_EXCEEDED (new inline customer),
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

        service = await self.availability.service(request.service_id, ["input", "serviceId"])
        location = None
        if request.location_id:
            location = await self.availability.location(
                request.location_id, ["input", "locationId"]
            )
        staff = None
        if request.staff_id:
            staff = await self.availability.staff(
                request.staff_id, ["input", "staffId"], service, location
            )
        check_start(
            tenant=self.tenant,
            timing=ServiceTiming.of(service),
            location=location,
            staff=staff,
            starts_at=starts_at,
            now=self.clock(),
            field=["input", "startsAt"],
        )
        applied = await self.codes.redeem(request.referral_code, service)  # counts one use
        try:
            customer, new_customer = await self._customer_for(
                request, allow_customer_id=allow_customer_id
            )
            try:
                result = await self._create_booking(
                    request,
                    customer,
                    service,
                    location,
                    staff,
                    starts_at,
                    applied,
                    key,
                    fingerprint,
                )
            except AppError:
                if new_customer:
                    await self._forget_unused_customer(customer["_id"])
                raise
        except Exception:
            await self.codes.give_back(applied)  # no booking made: the use is not spent
            raise
        if result.replayed:
            await self.codes.give_back(applied)
        return result

    async def _create_booking(
        self,
        request: BookingRequest,
        customer: dict[str, Any],
        service: dict[str, Any],
        location: dict[str, Any] | None,
        staff: dict[str, Any] | None,
        starts_at: datetime,
        applied: AppliedDiscount,
        key: str | None,
        fingerprint: str,
    ) -> CreateResult:
        price = int(service["price_minor"])
        discount = applied.discount_minor
        now = utcnow()
        timing = ServiceTiming.of(service)
        duration = timing.duration_minutes
        bases = resource_bases(service, location, staff)
        doc = BookingDocument(
            customer_id=customer["_id"],
            service_id=service["_id"],
            location_id=location["_id"] if location else None,
            staff_id=staff["_id"] if staff else None,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=duration),
            duration_minutes=duration,
            buffer_before_minutes=timing.buffer_before_minutes,
            buffer_after_minutes=timing.buffer_after_minutes,
            resources=bases,  # seat 0 of each; a later seat is set after claiming
            timezone=display_zone(self.tenant, location, staff),
            currency=service["currency"],
            price_minor=price,
            discount_minor=discount,
            final_price_minor=price - discount,
            **applied.booking_fields,
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
        rel = Related(customer, service, location)
        inserted, staged = await self._insert_with_confirmation_number(doc, rel)
        if inserted is not None:
            return inserted
        assert staged is not None
        try:
            held = await self._claim(doc["_id"], bases, timing.capacity, _cells(doc))
        except AppError:
            # No booking after all: delete it, then its staged messages (in this
            # order: the relay deletes staged messages no booking names).
            await self.bookings.delete_one({"_id": doc["_id"]})
            await self.notes.failed(staged)
            raise
        await self.notes.committed(staged)
        if [resource for resource, _ in held] != bases:
            doc["resources"] = [resource for resource, _ in held]
            await self.bookings.update_one(
                {"_id": doc["_id"]}, {"$set": {"resources": doc["resources"]}}
            )
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

    async def _insert_with_confirmation_number(
        self, doc: dict[str, Any], rel: Related
    ) -> tuple[CreateResult | None, Staged | None]:
        """Insert ``doc`` with a fresh confirmation number and its staged confirmation.

        The messages (which show the number) are staged before the insert,
        which commits their keys (``outbox_keys``); the caller promotes them
        once the booking holds its slots, or removes them.

        Returns:
            ``(None, staged)`` when inserted; ``(replay, None)`` when the
            idempotency key won in another request.
        """
        for _ in range(_CONFIRMATION_ATTEMPTS):
            doc["confirmation_number"] = await self._next_confirmation_number(doc["created_at"])
            staged = await self.notes.prepare(
                MessageKind.BOOKING_CONFIRMATION, doc, doc["version"], rel=rel
            )
            doc.update(self.notes.commit_fields(staged))
            try:
                await self.bookings.insert_one(doc)
                return None, staged
            except BaseException as exc:
                await self.notes.failed(staged)
                if not isinstance(exc, DuplicateKeyError):
                    raise
                key = doc.get("idempotency_key")
                if key is not None:
                    existing = await self.bookings.find_one({"idempotency_key": key})
                    if existing is not None:
                        return self._replay(existing, doc["request_hash"]), None
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
        self,
        booking_id: ObjectId,
        bases: list[str],
        capacity: int,
        cells: list[datetime],
        own: frozenset[tuple[str, datetime]] | None = None,
    ) -> list[tuple[str, list[datetime]]]:
        """Claim ``cells`` on a free seat of each resource of ``bases``; all or nothing.

        ``own``: the booking's committed ``(resource, cell)`` pairs when it
        already exists (a reschedule), see ``slots.claim_slots``.

        Returns:
            Per resource, the seat's key and the cells this call inserted.
        Raises:
            AppError(SLOT_TAKEN) when a resource has no seat free for all the
            cells; what this call inserted is freed first.
        """
        held: list[tuple[str, list[datetime]]] = []
        try:
            for base in bases:
                held.append(await claim_seat(self.db, booking_id, base, capacity, cells, own))
        except AppError:
            for resource, inserted in held:
                await release_slots(self.db, booking_id, resource, inserted)
            raise
        return held

    # -- transitions -----------------------------------------------------

    async def transition(
        self, booking_id: str, action: BookingAction, reason: str | None = None
    ) -> dict[str, Any]:
        """Apply a status-machine action with one conditional update.

        Confirm, cancel and no-show queue the customer's message
        (``ACTION_MESSAGES``): the booking is read, the message staged, and
        the update is conditional on the version read as well as the status;
        when another write came first, the booking is read again (up to
        ``_TRANSITION_ATTEMPTS`` times).

        Raises:
            AppError: NOT_FOUND, INVALID_TRANSITION (names the current status),
            VALIDATION_FAILED (cancel without a reason).
        """
        allowed, target = TRANSITIONS[action]
        if action == BookingAction.CANCEL and not (reason and reason.strip()):
            raise validation_error(["input", "reason"], "a cancellation needs a reason")
        oid = parse_id(booking_id)
        kind = ACTION_MESSAGES.get(action)
        doc = None
        for _ in range(_TRANSITION_ATTEMPTS):
            now = utcnow()
            changes: dict[str, Any] = {"status": target.value, "updated_at": now}
            if action == BookingAction.CANCEL:
                changes["cancel_reason"] = reason.strip() if reason else None
            entry = StatusChange(
                status=target.value, at=now, by=self.actor, reason=reason
            ).model_dump()
            update = {"$set": changes, "$push": {"status_history": entry}, "$inc": {"version": 1}}
            condition: dict[str, Any] = {"_id": oid, "status": {"$in": [s.value for s in allowed]}}
            if kind is None:  # nothing to tell the customer: one conditional update
                doc = await self.bookings.find_one_and_update(
                    condition, update, return_document=ReturnDocument.AFTER
                )
                break
            doc = await self._write_with_messages(kind, oid, condition, changes, update)
            if doc is not None or not await self._still_allowed(oid, allowed):
                break
        if doc is None:
            await self._refuse_transition(oid, booking_id, action, allowed)
        assert doc is not None
        if target in RELEASING_STATUSES:
            await release_slots(self.db, doc["_id"])
        await self._log(f"booking.{action.value}", doc["_id"], reason)
        return doc

    async def _write_with_messages(
        self,
        kind: MessageKind,
        oid: Any,
        condition: dict[str, Any],
        changes: dict[str, Any],
        update: dict[str, Any],
        *,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """One conditional update of a booking that sends ``kind``, the outbox way.

        Reads the booking (unless ``previous`` is it), stages the messages
        of the booking as ``changes`` leave it, and writes ``update`` where
        ``condition`` and the version read still hold, committing the
        messages' keys. Returns the booking after the write, or ``None``
        when it is missing or the condition (or version) no longer held:
        then nothing was written and nothing will be sent.
        """
        before = previous or await self.bookings.find_one(condition)
        if before is None:
            return None
        version = before.get("version")  # None: written before versions (null matches missing)
        after_version = int(version or 0) + 1
        after = {**before, **changes, "version": after_version}
        staged = await self.notes.prepare(
            kind, after, after_version, previous=before if previous is not None else None
        )
        try:
            doc = await self.bookings.find_one_and_update(
                {**condition, "version": version},
                merge_updates(update, self.notes.commit_update(staged)),
                return_document=ReturnDocument.AFTER,
            )
        except BaseException:
            await self.notes.failed(staged)
            raise
        if doc is None:
            await self.notes.failed(staged)
            return None
        await self.notes.committed(staged)
        return doc

    async def _still_allowed(self, oid: Any, allowed: frozenset[BookingStatus]) -> bool:
        """Whether the booking exists in one of ``allowed`` (a lost race is worth a retry)."""
        current = await self.bookings.find_one({"_id": oid}, {"status": 1})
        return current is not None and current["status"] in {s.value for s in allowed}

    async def _refuse_transition(
        self, oid: Any, booking_id: str, action: BookingAction, allowed: frozenset[BookingStatus]
    ) -> None:
        """Raise why ``action`` cannot apply: NOT_FOUND or INVALID_TRANSITION."""
        current = await self.bookings.find_one({"_id": oid}, {"status": 1})
        if current is None:
            raise not_found("booking", booking_id)
        if current["status"] in {s.value for s in allowed}:  # changed on every attempt
            raise AppError(
                ErrorCode.INVALID_TRANSITION, "the booking changed meanwhile; reload and retry"
            )
        raise AppError(
            ErrorCode.INVALID_TRANSITION,
            f"a {current['status']} booking cannot be {_DONE[action]}; "
            f"allowed from: {', '.join(sorted(s.value for s in allowed))}",
        )

    async def reschedule(
        self, booking_id: str, starts_at: datetime, location_id: str | None = None
    ) -> dict[str, Any]:
        """Move an open booking to a new time (and optionally location).

        The new time obeys the scheduling rules (service, location, the
        booking's staff member). New cells are claimed before old ones are
        released, so the booking never loses its slot; cells both times share
        are kept.

        Raises:
            AppError: NOT_FOUND, INVALID_TRANSITION (closed booking), TOO_SOON,
            TOO_FAR, OUTSIDE_AVAILABILITY, SLOT_TAKEN, VALIDATION_FAILED, or a
            conflict if the booking changed meanwhile.
        """
        starts_at = appointment_time(starts_at, "startsAt")
        doc = await self.get(booking_id)
        if doc is None:
            raise not_found("booking", booking_id)
        if doc["status"] not in OPEN_STATUSES:
            raise AppError(
                ErrorCode.INVALID_TRANSITION, f"a {doc['status']} booking cannot be rescheduled"
            )
        location = None
        if location_id is not None:
            location = await self.availability.location(location_id, ["input", "locationId"])
        elif doc.get("location_id") is not None:
            location = await self.catalog.location(str(doc["location_id"]))
        staff = None
        if doc.get("staff_id") is not None:  # kept even if deactivated since
            staff = await self.db[STAFF].find_one({"_id": doc["staff_id"]})
        service = await self.catalog.service(str(doc["service_id"]))
        timing = ServiceTiming.of({**(service or {}), "duration_minutes": doc["duration_minutes"]})
        check_start(
            tenant=self.tenant,
            timing=timing,
            location=location,
            staff=staff,
            starts_at=starts_at,
            now=self.clock(),
            field=["input", "startsAt"],
        )
        new_location = location["_id"] if location is not None else doc.get("location_id")
        moved = {**doc, "starts_at": starts_at, "location_id": new_location}
        duration = int(doc["duration_minutes"])
        moved["ends_at"] = starts_at + timedelta(minutes=duration)
        bases = resource_bases({"_id": doc["service_id"]}, location, staff)
        if not booking_resources(doc) and location is None and staff is None:
            bases = []  # an old booking without location never claimed: it still does not
        held = {
            (h["resource"], h["slot"])
            for h in await self.db[BOOKING_SLOTS].find({"booking_id": doc["_id"]}).to_list(None)
        }
        committed = frozenset((r, c) for r in booking_resources(doc) for c in _cells(doc))
        claimed = await self._claim(doc["_id"], bases, timing.capacity, _cells(moved), committed)
        resources = [resource for resource, _ in claimed]
        now = utcnow()
        changes = {
            "starts_at": starts_at,
            "ends_at": moved["ends_at"],
            "location_id": new_location,
            "resources": resources,
            "updated_at": now,
        }
        entry = StatusChange(status=doc["status"], at=now, by=self.actor, reason="rescheduled")
        try:
            updated = await self._write_with_messages(
                MessageKind.BOOKING_RESCHEDULED,
                doc["_id"],
                {  # unchanged since read (the version too): two reschedules race here
                    "_id": doc["_id"],
                    "starts_at": doc["starts_at"],
                    "location_id": doc.get("location_id"),
                    "status": {"$in": list(OPEN_STATUSES)},
                },
                changes,
                {
                    "$set": changes,
                    "$push": {"status_history": entry.model_dump()},
                    "$inc": {"version": 1},
                },
                previous=doc,
            )
        except BaseException:
            for resource, inserted in claimed:
                await release_slots(self.db, doc["_id"], resource, inserted)
            raise
        if updated is None:
            for resource, inserted in claimed:
                await release_slots(self.db, doc["_id"], resource, inserted)
            raise AppError(
                ErrorCode.INVALID_TRANSITION, "the booking changed meanwhile; reload and retry"
            )
        kept = {(resource, cell) for resource in resources for cell in _cells(moved)}
        stale: dict[str, list[datetime]] = {}
        for resource, cell in held - kept:
            stale.setdefault(resource, []).append(cell)
        for resource, cells in stale.items():
            await release_slots(self.db, doc["_id"], resource, sorted(cells))
        await self._log("booking.rescheduled", doc["_id"])
        return updated

    async def _log(self, action: str, booking_id: ObjectId, reason: str | None = None) -> None:
        entry = ActivityEntry(actor=self.actor, action=action, booking_id=booking_id, reason=reason)
        await self.db[ACTIVITY_LOG].insert_one(entry.to_mongo())


def _cells(booking: dict[str, Any]) -> list[datetime]:
    """The grid cells a booking claims: its span widened by its buffers (README, Scheduling)."""
    before = int(booking.get("buffer_before_minutes") or 0)
    after = int(booking.get("buffer_after_minutes") or 0)
    start = booking["starts_at"] - timedelta(minutes=before)
    minutes = int(booking["duration_minutes"]) + before + after
    return slot_starts(start, minutes)


__all__ = [  # the service with the request types its callers pass
    "BookingFilter",
    "BookingRequest",
    "BookingService",
    "BookingSort",
    "CreateResult",
    "InlineCustomer",
]
