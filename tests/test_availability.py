"""The pure slot computation (``domain.availability``): hours, overrides, DST, buffers,
notice, horizon, seats, and that the write-time check agrees with the offered slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.availability import (
    Held,
    Refusal,
    Schedule,
    ServiceTiming,
    Slot,
    free_slots,
    refusal,
)
from domain.documents import AvailabilityRules

BERLIN = ZoneInfo("Europe/Berlin")
ISTANBUL = ZoneInfo("Europe/Istanbul")
NOW = datetime(2027, 1, 1, tzinfo=UTC)
ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def rules(hours: dict[str, list[tuple[str, str]]], overrides: list[dict[str, Any]] | None = None):
    return AvailabilityRules.model_validate(
        {
            "weekly_hours": {
                d: [{"start": a, "end": b} for a, b in spans] for d, spans in hours.items()
            },
            "overrides": overrides or [],
        }
    )


def slots(
    schedule: AvailabilityRules | None,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    timing: ServiceTiming | None = None,
    now: datetime = NOW,
    held: dict[str, list[Held]] | None = None,
    extra: list[Schedule] | None = None,
) -> list[Slot]:
    return free_slots(
        schedules=[Schedule(schedule, zone), *(extra or [])],
        zone=zone,
        timing=timing or ServiceTiming(duration_minutes=30, slot_step_minutes=30),
        now=now,
        start=start,
        end=end,
        held=held or {},
    )


def local_day(zone: ZoneInfo, y: int, m: int, d: int) -> tuple[datetime, datetime]:
    start = datetime(y, m, d, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def walls(found: list[Slot]) -> list[str]:
    return [s.local.strftime("%H:%M%z") for s in found]


# -- DST: Europe/Berlin on its change days, Europe/Istanbul (no DST) ---------------


def test_berlin_spring_forward_has_no_slot_in_the_skipped_hour():
    night = rules({"sun": [("00:00", "06:00")]})  # 2027-03-28 is a Sunday
    found = slots(night, BERLIN, *local_day(BERLIN, 2027, 3, 28))
    assert walls(found) == [
        "00:00+0100",
        "00:30+0100",
        "01:00+0100",
        "01:30+0100",
        "03:00+0200",  # 02:00-02:59 does not exist
        "03:30+0200",
        "04:00+0200",
        "04:30+0200",
        "05:00+0200",
        "05:30+0200",
    ]
    utc = [s.starts_at for s in found]
    assert len(set(utc)) == len(utc) and utc == sorted(utc)
    assert found[4].starts_at - found[3].starts_at == timedelta(minutes=30)  # 01:30 -> 03:00


def test_berlin_fall_back_gives_each_wall_clock_time_once():
    night = rules({"sun": [("00:00", "06:00")]})  # 2027-10-31 is a Sunday
    found = slots(night, BERLIN, *local_day(BERLIN, 2027, 10, 31))
    labels = [s.local.strftime("%H:%M") for s in found]
    assert labels == [f"{h:02d}:{m:02d}" for h in range(6) for m in (0, 30)]  # no duplicate
    assert walls(found)[4:8] == ["02:00+0200", "02:30+0200", "03:00+0100", "03:30+0100"]
    assert len({s.starts_at for s in found}) == len(found)


def test_berlin_day_hours_do_not_shift_across_the_changes():
    days = rules({d: [("09:00", "12:00")] for d in ALL_DAYS})
    for before, change in (((3, 27), (3, 28)), ((10, 30), (10, 31))):
        a = slots(days, BERLIN, *local_day(BERLIN, 2027, *before))
        b = slots(days, BERLIN, *local_day(BERLIN, 2027, *change))
        assert [s.local.strftime("%H:%M") for s in a] == [s.local.strftime("%H:%M") for s in b]
        assert b[0].local.strftime("%H:%M") == "09:00"
        # the UTC instants move by the offset change, the local times do not
        assert abs(b[0].starts_at - a[0].starts_at - timedelta(days=1)) == timedelta(hours=1)


def test_istanbul_has_no_dst_on_berlin_change_days():
    days = rules({d: [("08:00", "17:00")] for d in ALL_DAYS})
    for month, day in ((3, 28), (10, 31)):
        found = slots(days, ISTANBUL, *local_day(ISTANBUL, 2027, month, day))
        assert len(found) == 18  # 08:00 .. 16:30, every 30 minutes
        assert {s.local.utcoffset() for s in found} == {timedelta(hours=3)}
        assert found[0].starts_at == datetime(2027, month, day, 5, 0, tzinfo=UTC)
        assert found[0].local.isoformat() == f"2027-{month:02d}-{day:02d}T08:00:00+03:00"


# -- hours, overrides, fitting -----------------------------------------------------


def test_a_booking_must_fit_inside_one_working_interval():
    split = rules({"mon": [("08:00", "09:00"), ("10:00", "10:40")]})
    timing = ServiceTiming(duration_minutes=45, slot_step_minutes=15)
    found = slots(split, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 1), timing=timing)
    assert [s.local.strftime("%H:%M") for s in found] == ["08:00", "08:15"]


def test_steps_start_at_each_interval_start():
    odd = rules({"mon": [("08:10", "09:00")]})
    timing = ServiceTiming(duration_minutes=20, slot_step_minutes=15)
    found = slots(odd, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 1), timing=timing)
    assert [s.local.strftime("%H:%M") for s in found] == ["08:10", "08:25", "08:40"]


def test_overrides_close_a_date_or_replace_its_hours():
    weekly = {"mon": [("08:00", "17:00")]}
    closed = rules(weekly, [{"date": "2027-03-01", "closed": True, "reason": "holiday"}])
    assert slots(closed, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 1)) == []
    assert len(slots(closed, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 8))) == 18
    special = rules(
        weekly, [{"date": "2027-03-01", "intervals": [{"start": "13:00", "end": "14:00"}]}]
    )
    found = slots(special, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 1))
    assert [s.local.strftime("%H:%M") for s in found] == ["13:00", "13:30"]
    assert slots(rules(weekly), ISTANBUL, *local_day(ISTANBUL, 2027, 3, 2)) == []  # Tuesday


def test_staff_hours_intersect_the_locations():
    location = rules({"mon": [("08:00", "17:00")]})
    staff = rules({"mon": [("16:00", "20:00")]})
    found = slots(
        location,
        ISTANBUL,
        *local_day(ISTANBUL, 2027, 3, 1),
        extra=[Schedule(staff, ISTANBUL)],
    )
    assert [s.local.strftime("%H:%M") for s in found] == ["16:00", "16:30"]


def test_no_hours_set_is_open_all_day():
    found = slots(None, ISTANBUL, *local_day(ISTANBUL, 2027, 3, 1))
    assert len(found) == 48 and found[0].local.strftime("%H:%M") == "00:00"


# -- buffers, notice, horizon, seats --------------------------------------------------


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 1, hour, minute, tzinfo=ISTANBUL).astimezone(UTC)


def test_existing_bookings_block_their_time_widened_by_buffers():
    day = rules({"mon": [("09:00", "13:00")]})
    timing = ServiceTiming(duration_minutes=30, slot_step_minutes=15)
    booked = Held(start=_at(10), end=_at(10, 30), buffer_after_minutes=10)
    found = slots(day, ISTANBUL, _at(9), _at(13), timing=timing, held={"location:x": [booked]})
    free = [s.local.strftime("%H:%M") for s in found]
    assert "09:30" in free and "09:45" not in free  # 09:45-10:15 overlaps
    assert "10:30" not in free  # the booking's 10 minutes after
    assert "10:45" in free
    # the new service's own buffer before widens its span too
    widened = ServiceTiming(duration_minutes=30, slot_step_minutes=15, buffer_before_minutes=10)
    found = slots(day, ISTANBUL, _at(9), _at(13), timing=widened, held={"location:x": [booked]})
    free = [s.local.strftime("%H:%M") for s in found]
    assert "10:45" not in free and "11:00" in free
    assert "09:15" in free and "09:30" in free  # ends 10:00: touching is not overlapping


def test_minimum_notice_and_past_times():
    day = rules({"mon": [("08:00", "17:00")]})
    timing = ServiceTiming(duration_minutes=30, slot_step_minutes=15, min_notice_minutes=120)
    now = _at(9, 10)
    found = slots(day, ISTANBUL, _at(0), _at(23), timing=timing, now=now)
    assert found[0].local.strftime("%H:%M") == "11:15"
    sched = [Schedule(day, ISTANBUL)]
    check = dict(schedules=sched, zone=ISTANBUL, timing=timing, now=now)
    assert refusal(**check, starts_at=_at(11)) is Refusal.TOO_SOON
    assert refusal(**check, starts_at=_at(8)) is Refusal.TOO_SOON  # the past
    assert refusal(**check, starts_at=_at(11, 15)) is None


def test_maximum_advance():
    every_day = rules({d: [("08:00", "17:00")] for d in ALL_DAYS})
    timing = ServiceTiming(duration_minutes=60, slot_step_minutes=60, max_advance_days=2)
    now = _at(12)
    found = slots(every_day, ISTANBUL, now, now + timedelta(days=5), timing=timing, now=now)
    assert max(s.starts_at for s in found) <= now + timedelta(days=2)
    assert found[-1].starts_at == now + timedelta(days=2)  # 12:00 two days later
    check = dict(schedules=[Schedule(every_day, ISTANBUL)], zone=ISTANBUL, timing=timing, now=now)
    assert refusal(**check, starts_at=now + timedelta(days=3)) is Refusal.TOO_FAR


def test_seats_left_counts_free_seats_of_every_resource():
    day = rules({"mon": [("09:00", "12:00")]})
    timing = ServiceTiming(duration_minutes=60, slot_step_minutes=60, capacity=3)
    held = {
        "location:x": [Held(_at(10), _at(11), seat=0), Held(_at(10), _at(11), seat=1)],
        "staff:y": [Held(_at(11), _at(12), seat=0)],
    }
    found = slots(day, ISTANBUL, _at(9), _at(12), timing=timing, held=held)
    assert [(s.local.strftime("%H:%M"), s.seats_left) for s in found] == [
        ("09:00", 3),
        ("10:00", 1),
        ("11:00", 2),
    ]
    held["location:x"].append(Held(_at(10), _at(11), seat=2))
    found = slots(day, ISTANBUL, _at(9), _at(12), timing=timing, held=held)
    assert [s.local.strftime("%H:%M") for s in found] == ["09:00", "11:00"]


def test_the_write_check_accepts_exactly_the_offered_starts():
    """``refusal`` and ``free_slots`` step through the same candidates: on DST days too."""
    schedule = rules({d: [("00:00", "06:00"), ("08:10", "17:00")] for d in ALL_DAYS})
    timing = ServiceTiming(duration_minutes=25, slot_step_minutes=15)
    for zone, (month, day) in ((BERLIN, (3, 28)), (BERLIN, (10, 31)), (ISTANBUL, (3, 28))):
        start, end = local_day(zone, 2027, month, day)
        offered = {s.starts_at for s in slots(schedule, zone, start, end, timing=timing)}
        check = dict(schedules=[Schedule(schedule, zone)], zone=zone, timing=timing, now=NOW)
        t = start
        while t < end:
            expected = None if t in offered else Refusal.OUTSIDE_AVAILABILITY
            assert refusal(**check, starts_at=t) is expected, (zone, t)
            t += timedelta(minutes=5)


def test_without_hours_any_start_is_accepted():
    check = dict(schedules=[Schedule(None, ISTANBUL)], zone=ISTANBUL, now=NOW)
    timing = ServiceTiming(duration_minutes=30)
    assert refusal(**check, timing=timing, starts_at=_at(3, 5)) is None
    assert refusal(**check, timing=timing, starts_at=NOW - timedelta(minutes=5)) is Refusal.TOO_SOON


def test_service_timing_reads_defaults_for_old_documents():
    old = ServiceTiming.of({"duration_minutes": 30})
    assert old == ServiceTiming(duration_minutes=30, slot_step_minutes=15, capacity=1)
    new = ServiceTiming.of(
        {"duration_minutes": 20, "min_notice_minutes": 120, "max_advance_days": 90, "capacity": 4}
    )
    assert (new.min_notice_minutes, new.max_advance_days, new.capacity) == (120, 90, 4)
