"""Free appointment times: a pure computation (no I/O), shared by reads and writes.

``free_slots`` answers ``availableSlots``; ``refusal`` decides whether
``createBooking``/``rescheduleBooking`` may use a start time. Both step
through the same candidate starts (``_candidates``), so a time the query
offers is a time a write accepts.

Rules (README, "Scheduling"):

- **Working intervals**: each schedule (a location's, a staff member's) gives,
  per local date, its date override (closed, or other intervals) or else its
  weekly hours. An interval covers every instant whose local wall-clock time
  lies in ``[start, end)``: a start in a skipped DST hour begins at the end
  of the gap; an end in a repeated hour ends at its second occurrence.
  Touching or overlapping intervals of one schedule merge. Several schedules
  (location and staff) intersect. ``None`` means no hours set: always open.
- **Candidates**: from the start of each working interval, every
  ``slot_step_minutes`` of local wall-clock time. A wall-clock time that does
  not exist (skipped DST hour) gives no slot; one that exists twice (repeated
  hour) gives one slot, its first occurrence. The appointment
  ``[start, start + duration)`` must fit inside one working interval; buffers
  may extend beyond it (preparation before opening, cleaning after closing).
- **Notice and horizon**: a start before ``now + min_notice`` is too soon (a
  past start always is); after ``now + max_advance_days`` it is too far.
- **Seats**: a booking holds, on each resource it uses, one seat over its
  claimed span: start minus buffer before to end plus buffer after, rounded
  out to the ``SLOT_MINUTES`` grid of the slot claims (``domain.slots``). A
  candidate keeps the seats (of ``0 .. capacity - 1``) whose held spans do not
  overlap its own claimed span; it is offered while every resource has one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from domain.booking_rules import SLOT_MINUTES
from domain.documents import WEEKDAYS, AvailabilityRules, ServiceDocument, TimeInterval

_MINUTE = timedelta(minutes=1)
# Widest claimed span of a booking around its start: buffers (<= 240 min each) and a day.
MAX_SPAN = timedelta(minutes=240 + 24 * 60 + 240 + SLOT_MINUTES)

Interval = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class ServiceTiming:
    """The scheduling values of one service (``ServiceDocument`` fields).

    Attributes:
        duration_minutes: length of the appointment.
        buffer_before_minutes, buffer_after_minutes: time held around it.
        min_notice_minutes: earliest start is ``now`` plus this.
        max_advance_days: latest start is ``now`` plus this many days; ``None``: no horizon.
        slot_step_minutes: distance between offered starts (5-60).
        capacity: customers at once (seats).
    """

    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 0
    max_advance_days: int | None = None
    slot_step_minutes: int = 15
    capacity: int = 1

    @classmethod
    def of(cls, service: Mapping[str, Any]) -> ServiceTiming:
        """The timing of a stored ``services`` document.

        The one place that reads the scheduling fields: documents written
        before they existed get ``ServiceDocument``'s defaults.
        """
        fields = ServiceDocument.model_fields

        def value(name: str) -> Any:
            found = service.get(name)
            return fields[name].default if found is None else found

        return cls(
            duration_minutes=int(service["duration_minutes"]),
            buffer_before_minutes=int(value("buffer_before_minutes")),
            buffer_after_minutes=int(value("buffer_after_minutes")),
            min_notice_minutes=int(value("min_notice_minutes")),
            max_advance_days=service.get("max_advance_days"),
            slot_step_minutes=int(value("slot_step_minutes")),
            capacity=int(value("capacity")),
        )


@dataclass(frozen=True)
class Held:
    """A seat an existing booking holds on one resource.

    ``start``/``end`` are the appointment (UTC); the buffers are the booking's own.
    """

    start: datetime
    end: datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    seat: int = 0


@dataclass(frozen=True)
class Schedule:
    """Working hours in a time zone; ``rules`` ``None`` means no hours set (always open)."""

    rules: AvailabilityRules | None
    zone: ZoneInfo


@dataclass(frozen=True)
class Slot:
    """A free start: ``starts_at`` (UTC), ``local`` (same instant in the display zone)."""

    starts_at: datetime
    local: datetime
    ends_at: datetime
    seats_left: int


class Refusal(StrEnum):
    """Why a start time cannot be booked (the error codes of the same names)."""

    TOO_SOON = "TOO_SOON"
    TOO_FAR = "TOO_FAR"
    OUTSIDE_AVAILABILITY = "OUTSIDE_AVAILABILITY"


@dataclass
class _Seats:
    """Merged held spans of each seat of one resource, for bisecting."""

    starts: dict[int, list[datetime]] = field(default_factory=dict)
    ends: dict[int, list[datetime]] = field(default_factory=dict)

    def free(self, span: Interval, capacity: int) -> int:
        count = 0
        for seat in range(capacity):
            starts = self.starts.get(seat)
            if not starts:
                count += 1
                continue
            i = bisect.bisect_left(starts, span[1]) - 1  # last held span starting before our end
            if i < 0 or self.ends[seat][i] <= span[0]:
                count += 1
        return count


# -- time zone arithmetic --------------------------------------------------------


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive local ``wall`` time occurs in ``zone`` (not in a skipped hour)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _utc(wall: datetime, zone: ZoneInfo, fold: int = 0) -> datetime:
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _first_instant_from(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local time is at or after ``wall`` (UTC)."""
    if _exists(wall, zone):
        return _utc(wall, zone, 0)
    probe = wall.replace(second=0, microsecond=0)
    for _ in range(24 * 60):  # back to the last minute before the gap
        probe -= _MINUTE
        if _exists(probe, zone):
            return _utc(probe, zone, 1) + _MINUTE
    raise ValueError(f"{wall} does not occur in {zone}")  # pragma: no cover - no such zone


def _last_instant_before(wall: datetime, zone: ZoneInfo) -> datetime:
    """The end of the instants whose local time is before ``wall`` (UTC, exclusive)."""
    if _exists(wall, zone):
        return _utc(wall, zone, 1)  # a repeated time: its second occurrence
    return _first_instant_from(wall, zone)


def _at(day: date, hhmm: str) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day) + timedelta(hours=hours, minutes=minutes)


# -- working intervals -----------------------------------------------------------


def _day_intervals(rules: AvailabilityRules, day: date) -> list[TimeInterval]:
    iso = day.isoformat()
    for override in rules.overrides:
        if override.date == iso:
            return [] if override.closed else list(override.intervals)
    return list(rules.weekly_hours.get(WEEKDAYS[day.weekday()], []))


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _schedule_intervals(schedule: Schedule, first: date, last: date) -> list[Interval]:
    """UTC working intervals of ``schedule`` on the local dates ``first`` .. ``last``."""
    zone = schedule.zone
    if schedule.rules is None:
        start = _first_instant_from(_at(first, "00:00"), zone)
        return [(start, _first_instant_from(_at(last + timedelta(days=1), "00:00"), zone))]
    found: list[Interval] = []
    day = first
    while day <= last:
        for interval in _day_intervals(schedule.rules, day):
            end_day = day + timedelta(days=1) if interval.end == "24:00" else day
            end_wall = _at(end_day, "00:00" if interval.end == "24:00" else interval.end)
            found.append(
                (
                    _first_instant_from(_at(day, interval.start), zone),
                    _last_instant_before(end_wall, zone),
                )
            )
        day += timedelta(days=1)
    return _merge(found)


def working_intervals(
    schedules: Sequence[Schedule], start: datetime, end: datetime
) -> list[Interval]:
    """UTC working intervals of all ``schedules`` together (their intersection).

    Covers every local date of ``[start, end)`` in every schedule's zone, with a
    day's margin each side, so an interval that began before ``start`` keeps
    the start its slots step from. With no schedules: always open.
    """
    result: list[Interval] | None = None
    for schedule in schedules or [Schedule(None, ZoneInfo("UTC"))]:
        first = start.astimezone(schedule.zone).date() - timedelta(days=1)
        last = end.astimezone(schedule.zone).date() + timedelta(days=1)
        intervals = _schedule_intervals(schedule, first, last)
        result = intervals if result is None else _intersect(result, intervals)
    return result or []


def _candidates(
    intervals: list[Interval], zone: ZoneInfo, timing: ServiceTiming
) -> Iterator[datetime]:
    """Start times (UTC) stepping through each interval in local wall-clock time."""
    step = timedelta(minutes=timing.slot_step_minutes)
    duration = timedelta(minutes=timing.duration_minutes)
    for start, end in intervals:
        anchor = start.astimezone(zone).replace(tzinfo=None)
        wall = anchor
        while True:
            if not _exists(wall, zone):  # a skipped hour: no slot (and no end test: its
                wall += step  # offset would place it after the times that follow)
                continue
            instant = _utc(wall, zone, 0)  # a repeated time: its first occurrence
            if instant + duration > end:
                break
            if instant >= start:
                yield instant
            wall += step


# -- claimed spans ---------------------------------------------------------------


def _floor(t: datetime) -> datetime:
    minutes = int(t.timestamp() // 60)
    return t.replace(second=0, microsecond=0) - timedelta(minutes=minutes % SLOT_MINUTES)


def claimed_span(
    start: datetime, end: datetime, buffer_before_minutes: int, buffer_after_minutes: int
) -> Interval:
    """The span a booking's slot claims cover: widened by its buffers, out to the grid.

    Two bookings of one seat conflict exactly when these spans overlap (their
    ``SLOT_MINUTES`` cells intersect).
    """
    first = _floor(start - timedelta(minutes=buffer_before_minutes))
    last = end + timedelta(minutes=buffer_after_minutes)
    rounded = _floor(last)
    return first, rounded if rounded == last else rounded + timedelta(minutes=SLOT_MINUTES)


def _seats(held: Sequence[Held]) -> _Seats:
    by_seat: dict[int, list[Interval]] = {}
    for h in held:
        span = claimed_span(h.start, h.end, h.buffer_before_minutes, h.buffer_after_minutes)
        by_seat.setdefault(h.seat, []).append(span)
    seats = _Seats()
    for seat, spans in by_seat.items():
        merged = _merge(spans)
        seats.starts[seat] = [s for s, _ in merged]
        seats.ends[seat] = [e for _, e in merged]
    return seats


# -- the two answers -------------------------------------------------------------


def _window(timing: ServiceTiming, now: datetime) -> tuple[datetime, datetime | None]:
    earliest = max(now, now + timedelta(minutes=timing.min_notice_minutes))
    latest = None
    if timing.max_advance_days is not None:
        latest = now + timedelta(days=timing.max_advance_days)
    return earliest, latest


def free_slots(
    *,
    schedules: Sequence[Schedule],
    zone: ZoneInfo,
    timing: ServiceTiming,
    now: datetime,
    start: datetime,
    end: datetime,
    held: Mapping[str, Sequence[Held]],
) -> list[Slot]:
    """The free starts in ``[start, end)``, in time order.

    Args:
        schedules: the location's and/or staff member's hours (intersected).
        zone: the zone of the local times (the location's, else the tenant's).
        timing: the service's scheduling values.
        now: the current time (UTC).
        start, end: the range asked for (UTC, aware).
        held: per resource the booking uses (e.g. ``location:<id>``), the seats
            existing bookings hold there (any bookings; only overlaps count).
    Returns:
        Slots whose every resource has a free seat; ``seats_left`` is the
        fewest free seats over the resources (``capacity`` with none).
    """
    earliest, latest = _window(timing, now)
    duration = timedelta(minutes=timing.duration_minutes)
    seats = [_seats(spans) for spans in held.values()]
    slots: list[Slot] = []
    for instant in _candidates(working_intervals(schedules, start, end), zone, timing):
        if instant < start or instant >= end or instant < earliest:
            continue
        if latest is not None and instant > latest:
            break
        span = claimed_span(
            instant, instant + duration, timing.buffer_before_minutes, timing.buffer_after_minutes
        )
        left = min((s.free(span, timing.capacity) for s in seats), default=timing.capacity)
        if left > 0:
            slots.append(Slot(instant, instant.astimezone(zone), instant + duration, left))
    return slots


def refusal(
    *,
    schedules: Sequence[Schedule],
    zone: ZoneInfo,
    timing: ServiceTiming,
    now: datetime,
    starts_at: datetime,
) -> Refusal | None:
    """Why ``starts_at`` cannot be booked, or ``None`` when its rules allow it.

    Conflicts with other bookings are not checked here: the slot claims
    refuse them (``SLOT_TAKEN``). When no schedule has hours set, any start
    after the notice and within the horizon is allowed (no step grid).
    """
    earliest, latest = _window(timing, now)
    if starts_at < earliest:
        return Refusal.TOO_SOON
    if latest is not None and starts_at > latest:
        return Refusal.TOO_FAR
    if all(schedule.rules is None for schedule in schedules):
        return None
    intervals = working_intervals(schedules, starts_at, starts_at + _MINUTE)
    if any(c == starts_at for c in _candidates(intervals, zone, timing)):
        return None
    return Refusal.OUTSIDE_AVAILABILITY
