"""Availability inputs and types: weekly hours and date overrides (local wall-clock times)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry


@strawberry.enum(description="A day of the week.")
class Weekday(Enum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


@strawberry.input(description='A local interval of one day, "HH:MM" to "HH:MM" (end may be 24:00).')
class TimeIntervalInput:
    start: str
    end: str


@strawberry.input
class WeeklyHoursInput:
    day: Weekday
    intervals: list[TimeIntervalInput]


@strawberry.input(description="Hours of one date that replace the weekly hours.")
class DateOverrideInput:
    date: str = strawberry.field(description="YYYY-MM-DD, local date.")
    closed: bool = False
    intervals: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    reason: str | None = None


@strawberry.input(
    description="Working hours: weekly intervals (a missing day is closed) and overrides."
)
class AvailabilityInput:
    weekly_hours: list[WeeklyHoursInput]
    overrides: list[DateOverrideInput] = strawberry.field(default_factory=list)

    def to_raw(self) -> dict[str, Any]:
        """The ``AvailabilityRules`` shape (validated by the domain)."""
        weekly: dict[str, list[dict[str, str]]] = {}
        for entry in self.weekly_hours:
            weekly.setdefault(entry.day.value, []).extend(
                {"start": i.start, "end": i.end} for i in entry.intervals
            )
        return {
            "weekly_hours": weekly,
            "overrides": [
                {
                    "date": o.date,
                    "closed": o.closed,
                    "intervals": [{"start": i.start, "end": i.end} for i in o.intervals],
                    "reason": o.reason,
                }
                for o in self.overrides
            ],
        }


@strawberry.type
class TimeInterval:
    start: str
    end: str


@strawberry.type
class WeeklyHours:
    day: Weekday
    intervals: list[TimeInterval]


@strawberry.type
class DateOverride:
    date: str
    closed: bool
    intervals: list[TimeInterval]
    reason: str | None


@strawberry.type(description="Working hours in local wall-clock time.")
class Availability:
    weekly_hours: list[WeeklyHours]
    overrides: list[DateOverride]

    @classmethod
    def from_raw(cls, raw: dict[str, Any] | None) -> Availability | None:
        if raw is None:
            return None
        weekly = raw.get("weekly_hours") or {}
        return cls(
            weekly_hours=[
                WeeklyHours(
                    day=day,
                    intervals=[
                        TimeInterval(start=i["start"], end=i["end"]) for i in weekly[day.value]
                    ],
                )
                for day in Weekday
                if weekly.get(day.value)
            ],
            overrides=[
                DateOverride(
                    date=o["date"],
                    closed=o.get("closed", False),
                    intervals=[
                        TimeInterval(start=i["start"], end=i["end"]) for i in o.get("intervals", [])
                    ],
                    reason=o.get("reason"),
                )
                for o in raw.get("overrides") or []
            ],
        )
