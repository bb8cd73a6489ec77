"""Availability rules (weekly hours and date overrides) as GraphQL types and inputs.

Mirrors ``domain.documents.AvailabilityRules``: local wall-clock "HH:MM"
intervals per weekday, and overrides of single local dates. Shared by every
type that has working hours (locations; staff members may use them too).
"""

from __future__ import annotations

from typing import Any

import strawberry

from domain.documents import WEEKDAYS


@strawberry.type(description='A local wall-clock interval of one day, "HH:MM" to "HH:MM".')
class TimeInterval:
    start: str
    end: str = strawberry.field(description='After start; "24:00" is the end of the day.')


@strawberry.type(description="Working intervals per weekday; a day without intervals is closed.")
class WeeklyHours:
    mon: list[TimeInterval]
    tue: list[TimeInterval]
    wed: list[TimeInterval]
    thu: list[TimeInterval]
    fri: list[TimeInterval]
    sat: list[TimeInterval]
    sun: list[TimeInterval]


@strawberry.type(description="Hours of one local date replacing the weekly hours.")
class DateOverride:
    date: str = strawberry.field(description='Local date, "YYYY-MM-DD".')
    closed: bool
    intervals: list[TimeInterval]
    reason: str | None


@strawberry.type(description="When a place (or person) works, in its local time zone.")
class AvailabilityRules:
    weekly_hours: WeeklyHours
    overrides: list[DateOverride]

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> AvailabilityRules | None:
        if doc is None:
            return None

        def intervals(items: list[dict[str, Any]]) -> list[TimeInterval]:
            return [TimeInterval(start=i["start"], end=i["end"]) for i in items]

        weekly = doc.get("weekly_hours") or {}
        return cls(
            weekly_hours=WeeklyHours(**{day: intervals(weekly.get(day) or []) for day in WEEKDAYS}),
            overrides=[
                DateOverride(
                    date=o["date"],
                    closed=bool(o.get("closed")),
                    intervals=intervals(o.get("intervals") or []),
                    reason=o.get("reason"),
                )
                for o in doc.get("overrides") or []
            ],
        )


@strawberry.input
class TimeIntervalInput:
    start: str = strawberry.field(description='"HH:MM", e.g. "09:00".')
    end: str = strawberry.field(description='"HH:MM" after start, or "24:00".')


@strawberry.input(description="Intervals per weekday; a day left out (or empty) is closed.")
class WeeklyHoursInput:
    mon: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    tue: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    wed: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    thu: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    fri: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    sat: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    sun: list[TimeIntervalInput] = strawberry.field(default_factory=list)


@strawberry.input
class DateOverrideInput:
    date: str = strawberry.field(description='Local date, "YYYY-MM-DD".')
    closed: bool = False
    intervals: list[TimeIntervalInput] = strawberry.field(default_factory=list)
    reason: str | None = None


@strawberry.input(
    description="Weekly hours and up to 1000 date overrides; intervals of one day must not overlap."
)
class AvailabilityRulesInput:
    weekly_hours: WeeklyHoursInput
    overrides: list[DateOverrideInput] = strawberry.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The rules as ``AvailabilityRules`` data (validated by the domain)."""

        def intervals(items: list[TimeIntervalInput]) -> list[dict[str, str]]:
            return [{"start": i.start, "end": i.end} for i in items]

        weekly = {
            day: intervals(getattr(self.weekly_hours, day))
            for day in WEEKDAYS
            if getattr(self.weekly_hours, day)
        }
        return {
            "weekly_hours": weekly,
            "overrides": [
                {
                    "date": o.date,
                    "closed": o.closed,
                    "intervals": intervals(o.intervals),
                    "reason": o.reason,
                }
                for o in self.overrides
            ],
        }
