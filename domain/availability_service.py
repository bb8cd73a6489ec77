"""Availability of one tenant: ``availableSlots`` reads, and the write-time time check.

The computation is ``domain.availability`` (pure); this module loads what it
needs in a constant number of round-trips (service, location, staff member,
one projected query of the range's bookings) and maps refusals to coded
errors. ``BookingService`` calls :func:`check_start` with the documents it
has already loaded, so reads and writes apply the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.availability import (
    MAX_SPAN,
    Held,
    Refusal,
    Schedule,
    ServiceTiming,
    Slot,
    free_slots,
    refusal,
)
from domain.booking_requests import utc_time
from domain.booking_rules import RELEASING_STATUSES
from domain.collections import BOOKINGS, LOCATIONS, SERVICES, STAFF
from domain.documents import AvailabilityRules
from domain.ids import parse_id
from domain.slots import (
    location_resource,
    service_resource,
    split_seat,
    staff_resource,
)
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import Tenant, utcnow
from tenancy.mongo_types import Database

MAX_RANGE_DAYS = 31
_MESSAGES = {
    Refusal.TOO_SOON: "that time is in the past or inside the service's minimum notice "
    "({notice} minutes); choose a later time",
    Refusal.TOO_FAR: "that time is beyond how far ahead the service can be booked "
    "({days} days); choose an earlier time",
    Refusal.OUTSIDE_AVAILABILITY: "that time is outside the working hours (or not one of the "
    "offered start times); ask availableSlots for free times",
}


@dataclass(frozen=True)
class SlotsAnswer:
    """``availableSlots``: the zone of the local times, the free slots, the service's capacity."""

    timezone: str
    capacity: int
    slots: list[Slot]


def _rules(doc: dict[str, Any] | None) -> AvailabilityRules | None:
    raw = doc.get("availability") if doc else None
    return AvailabilityRules.model_validate(raw) if raw is not None else None


def display_zone(
    tenant: Tenant, location: dict[str, Any] | None, staff: dict[str, Any] | None
) -> str:
    """The zone of local times: the location's, else the staff member's, else the tenant's."""
    for doc in (location, staff):
        if doc and doc.get("timezone"):
            return str(doc["timezone"])
    return tenant.settings.timezone


def schedules_for(
    tenant: Tenant, location: dict[str, Any] | None, staff: dict[str, Any] | None
) -> list[Schedule]:
    """The working hours that apply: the location's and the staff member's (each in its zone)."""
    zone = display_zone(tenant, location, None)
    found = []
    if location is not None:
        found.append(Schedule(_rules(location), ZoneInfo(zone)))
    if staff is not None:
        staff_zone = staff.get("timezone") or zone
        found.append(Schedule(_rules(staff), ZoneInfo(staff_zone)))
    return found


def resource_bases(
    service: dict[str, Any], location: dict[str, Any] | None, staff: dict[str, Any] | None
) -> list[str]:
    """The resources a booking uses: its location and staff member, else its service.

    The conflict rule without location or staff (README): the service itself
    is the resource, with its capacity.
    """
    bases = []
    if location is not None:
        bases.append(location_resource(location["_id"]))
    if staff is not None:
        bases.append(staff_resource(staff["_id"]))
    return bases or [service_resource(service["_id"])]


def booking_resources(booking: dict[str, Any]) -> list[str]:
    """The claimed resource keys of a stored booking (older bookings: their location)."""
    if booking.get("resources"):
        return list(booking["resources"])
    return [location_resource(booking["location_id"])] if booking.get("location_id") else []


def check_start(
    *,
    tenant: Tenant,
    timing: ServiceTiming,
    location: dict[str, Any] | None,
    staff: dict[str, Any] | None,
    starts_at: datetime,
    now: datetime,
    field: list[str],
) -> None:
    """Refuse a booking start the service's and resources' rules do not allow.

    Raises:
        AppError: TOO_SOON (past or inside the minimum notice), TOO_FAR
        (beyond the maximum advance), OUTSIDE_AVAILABILITY (not a start time
        of the working hours), each on ``field``.
    """
    zone = ZoneInfo(display_zone(tenant, location, staff))
    found = refusal(
        schedules=schedules_for(tenant, location, staff),
        zone=zone,
        timing=timing,
        now=now,
        starts_at=starts_at,
    )
    if found is not None:
        message = _MESSAGES[found].format(
            notice=timing.min_notice_minutes, days=timing.max_advance_days
        )
        raise AppError(ErrorCode[found.value], message, field)


class AvailabilityService:
    """Free slots in one tenant database.

    Args:
        db: the tenant's database handle.
        tenant: the tenant (its time zone).
        clock: the current time (UTC); tests pass a fixed one.
    """

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tenant = tenant
        self.clock = clock

    async def service(self, service_id: str, field: list[str]) -> dict[str, Any]:
        """An active service, or NOT_FOUND on ``field``."""
        doc = await self.db[SERVICES].find_one({"_id": parse_id(service_id)})
        if doc is None or not doc.get("active", True):
            raise AppError(ErrorCode.NOT_FOUND, "service was not found or is not bookable", field)
        return doc

    async def location(self, location_id: str, field: list[str]) -> dict[str, Any]:
        """An active location, or NOT_FOUND on ``field``."""
        doc = await self.db[LOCATIONS].find_one({"_id": parse_id(location_id)})
        if doc is None or not doc.get("active", True):
            raise AppError(ErrorCode.NOT_FOUND, "location was not found or is not bookable", field)
        return doc

    async def staff(
        self,
        staff_id: str,
        field: list[str],
        service: dict[str, Any],
        location: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """An active staff member who offers ``service`` (at ``location``).

        Raises:
            AppError: NOT_FOUND (unknown, another tenant's, or deactivated),
            VALIDATION_FAILED (does not offer the service, or not at the location).
        """
        doc = await self.db[STAFF].find_one({"_id": parse_id(staff_id)})
        if doc is None or not doc.get("active", True):
            raise AppError(ErrorCode.NOT_FOUND, "staff member was not found or is inactive", field)
        offered = doc.get("service_ids") or []
        if offered and service["_id"] not in offered:
            raise validation_error(field, "this staff member does not offer that service")
        places = doc.get("location_ids") or []
        if location is not None and places and location["_id"] not in places:
            raise validation_error(field, "this staff member does not work at that location")
        return doc

    async def slots(
        self,
        service_id: str,
        location_id: str | None,
        staff_id: str | None,
        start: datetime,
        end: datetime,
    ) -> SlotsAnswer:
        """Free start times of a service in ``[start, end)`` (at most 31 days).

        Round-trips: one per document named (service, location, staff) and
        one for the bookings of the range, whatever their number.

        Raises:
            AppError: VALIDATION_FAILED (``from``/``to``: offset, order, range
            over 31 days), NOT_FOUND (service, location, staff member).
        """
        start = utc_time(start, ["from"])
        end = utc_time(end, ["to"])
        if end <= start:
            raise validation_error(["to"], "`to` must be after `from`")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise validation_error(["to"], f"the range may span at most {MAX_RANGE_DAYS} days")
        service = await self.service(service_id, ["serviceId"])
        location = await self.location(location_id, ["locationId"]) if location_id else None
        staff = await self.staff(staff_id, ["staffId"], service, location) if staff_id else None
        bases = resource_bases(service, location, staff)
        held = await self._held(service, location, staff, bases, start, end)
        timing = ServiceTiming.of(service)
        zone = display_zone(self.tenant, location, staff)
        found = free_slots(
            schedules=schedules_for(self.tenant, location, staff),
            zone=ZoneInfo(zone),
            timing=timing,
            now=self.clock(),
            start=start,
            end=end,
            held=held,
        )
        return SlotsAnswer(timezone=zone, capacity=timing.capacity, slots=found)

    async def _held(
        self,
        service: dict[str, Any],
        location: dict[str, Any] | None,
        staff: dict[str, Any] | None,
        bases: list[str],
        start: datetime,
        end: datetime,
    ) -> dict[str, list[Held]]:
        """Seats held on ``bases`` by bookings near ``[start, end)``: one projected query."""
        branches: list[dict[str, Any]] = []
        if location is not None:
            branches.append({"location_id": location["_id"]})
        if staff is not None:
            branches.append({"staff_id": staff["_id"]})
        if not branches:
            branches.append({"service_id": service["_id"], "location_id": None, "staff_id": None})
        query = {
            "$or": branches,
            "status": {"$nin": [s.value for s in RELEASING_STATUSES]},
            "starts_at": {"$lt": end + MAX_SPAN},
            "ends_at": {"$gt": start - MAX_SPAN},
        }
        projection = {
            "starts_at": 1,
            "ends_at": 1,
            "buffer_before_minutes": 1,
            "buffer_after_minutes": 1,
            "resources": 1,
            "location_id": 1,
        }
        held: dict[str, list[Held]] = {base: [] for base in bases}
        async for doc in self.db[BOOKINGS].find(query, projection):
            for resource in booking_resources(doc):
                base, seat = split_seat(resource)
                if base in held:
                    held[base].append(
                        Held(
                            start=doc["starts_at"],
                            end=doc["ends_at"],
                            buffer_before_minutes=int(doc.get("buffer_before_minutes") or 0),
                            buffer_after_minutes=int(doc.get("buffer_after_minutes") or 0),
                            seat=seat,
                        )
                    )
        return held
