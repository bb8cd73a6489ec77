"""Demo data for the zero-set-up default (the embedded SecantusDB database).

Modelled on the seeds' real tenants: the clinic brands of seed 000 (Omega
West / westesti.com, Omega Trombofili / trombofili.com, Omega Genetik /
nipt.tr) with their tests, locations and referral codes, and Quattro Stand
of seed 001 (trade-fair stand builder). Every tenant is provisioned through
the same service as the API and the operator CLI; bookings go through the
booking service, so prices, slots and confirmation numbers follow the rules.

west-nipt also has a schedule (issue 8): its locations open Monday to
Saturday 08:00-17:00 (Europe/Istanbul) and close on the next national
holiday, its services have buffers, two hours' notice, a 90-day horizon and a
15-minute step, and two staff members (one linked to its staff login). Its
seeded bookings, some of them in the past, are booked as of 30 days ago.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.booking_rules import BookingAction
from domain.bookings import BookingRequest, BookingService
from domain.catalog import CatalogService, ServiceFields
from domain.customers import CustomerFields, CustomerService
from domain.documents import AvailabilityRules
from domain.staff import StaffFields, StaffService
from notifications.wiring import outbox_setup
from tenancy import lifecycle
from tenancy.errors import AppError
from tenancy.models import Role, TenantStatus
from tenancy.mongo_types import Database
from tenancy.passwords import verify_password
from tenancy.runtime import Runtime

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password"
DEMO_SEED_CLAIM = "demo-seed"
DEMO_SEED_WAIT_SECONDS = 120.0
SUPER_ADMIN_EMAIL = "root@platform.example.com"


# Fixed-date national holidays of Turkey (month, day): the demo closes on the next one.
_HOLIDAYS = [(1, 1), (4, 23), (5, 1), (5, 19), (7, 15), (8, 30), (10, 29)]


@dataclass
class DemoSchedule:
    """Hours of every location, scheduling values of every service, and staff members."""

    weekly_hours: dict[str, list[tuple[str, str]]]
    service_timing: dict[str, Any]
    staff: list[tuple[str, str | None, str | None]]  # name, email, linked demo role
    staff_hours: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


WEST_SCHEDULE = DemoSchedule(
    weekly_hours={day: [("08:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    service_timing={
        "buffer_before_minutes": 5,
        "buffer_after_minutes": 10,
        "min_notice_minutes": 120,
        "max_advance_days": 90,
        "slot_step_minutes": 15,
    },
    staff=[
        ("Dr. Selin Aydın", "selin.aydin@westesti.com", "staff"),
        ("Hemşire Ayşe Koç", None, None),
    ],
    staff_hours={day: [("09:00", "13:00")] for day in ("mon", "wed", "fri")},
)


def next_holiday(today: date) -> date:
    """The next fixed national holiday after ``today`` (the demo locations' closed date)."""
    candidates = [date(today.year + y, m, d) for y in (0, 1) for m, d in _HOLIDAYS]
    return min(day for day in candidates if day > today)


def _hours(weekly: dict[str, list[tuple[str, str]]], closed: date | None) -> AvailabilityRules:
    overrides = []
    if closed is not None:
        overrides.append({"date": closed.isoformat(), "closed": True, "reason": "national holiday"})
    return AvailabilityRules.model_validate(
        {
            "weekly_hours": {
                day: [{"start": a, "end": b} for a, b in spans] for day, spans in weekly.items()
            },
            "overrides": overrides,
        }
    )


@dataclass
class DemoTenant:
    slug: str
    name: str
    plan: str
    domain: str
    prefix: str
    services: list[tuple[str, str, int, int]]  # code, name, minutes, price (minor, TRY)
    locations: list[tuple[str, str]]  # city, district
    referral_codes: list[tuple[str, str, int]] = field(default_factory=list)  # code, doctor, %
    customers: list[tuple[str, str, str]] = field(default_factory=list)  # name, email, phone
    bookings: int = 24
    status: TenantStatus = TenantStatus.ACTIVE
    status_reason: str | None = None
    schedule: DemoSchedule | None = None


DEMO_TENANTS = [
    DemoTenant(
        slug="west-nipt",
        name="Omega West",
        plan="professional",
        domain="westesti.com",
        prefix="WE",
        services=[
            ("verifi", "Verifi NIPT", 30, 185_000),
            ("momguard", "MomGuard NIPT", 30, 120_000),
        ],
        locations=[("İzmir", "Alsancak"), ("İzmir", "Karşıyaka"), ("Manisa", "Merkez")],
        referral_codes=[("DRALI10", "Dr. Ali Yılmaz", 10), ("DRFATIH15", "Dr. Fatih Kaya", 15)],
        customers=[
            ("Ayşe Demir", "ayse.demir@example.com", "+90 532 111 2233"),
            ("Elif Kaya", "elif.kaya@example.com", "+90 533 222 3344"),
            ("Zeynep Çelik", "zeynep.celik@example.com", "+90 534 333 4455"),
            ("Merve Şahin", "merve.sahin@example.com", "+90 535 444 5566"),
        ],
        schedule=WEST_SCHEDULE,
    ),
    DemoTenant(
        slug="tromb-screening",
        name="Omega Trombofili",
        plan="starter",
        domain="trombofili.com",
        prefix="TR",
        services=[
            ("f5l", "Factor V Leiden", 20, 50_000),
            ("mthfr", "MTHFR C677T", 20, 50_000),
            ("panel", "Comprehensive Thrombophilia Panel", 40, 150_000),
        ],
        locations=[("Ankara", "Çankaya"), ("İstanbul", "Şişli")],
        referral_codes=[("AKBAS15", "Prof. Dr. Mehmet Akbaş", 15)],
        customers=[
            ("Fatma Arslan", "fatma.arslan@example.com", "+90 536 555 6677"),
            ("Hatice Yıldız", "hatice.yildiz@example.com", "+90 537 666 7788"),
            ("Emine Aydın", "emine.aydin@example.com", "+90 538 777 8899"),
        ],
    ),
    DemoTenant(
        slug="quattro-stand",
        name="Quattro Stand",
        plan="enterprise",
        domain="quattrostand.com",
        prefix="QS",
        services=[
            ("stand-design", "Stand design consultation", 60, 250_000),
            ("stand-build", "Stand build survey (on site)", 120, 750_000),
        ],
        locations=[("İstanbul", "Tüyap Fair Center"), ("İzmir", "Fuar İzmir")],
        customers=[
            ("Honda Türkiye", "purchasing@honda.example.com", "+90 216 111 0000"),
            ("Çetin San.", "info@cetin.example.com", "+90 212 222 0000"),
            ("Borçelik", "fuar@borcelik.example.com", "+90 224 333 0000"),
        ],
    ),
    DemoTenant(
        slug="omega-nipt",
        name="Omega Genetik",
        plan="professional",
        domain="nipt.tr",
        prefix="OM",
        services=[("veritas", "Veritas NIPT", 30, 240_000)],
        locations=[("Ankara", "Çankaya")],
        customers=[("Gül Öztürk", "gul.ozturk@example.com", "+90 539 888 9900")],
        bookings=4,
        status=TenantStatus.SUSPENDED,
        status_reason="payment failed; subscription past due for 14 days",
    ),
]

DEMO_ROLES = (Role.ADMIN, Role.STAFF, Role.VIEWER)
_STATUS_PLAN = [
    [],
    [BookingAction.CONFIRM],
    [BookingAction.CONFIRM, BookingAction.SCHEDULE],
    [BookingAction.CONFIRM, BookingAction.COMPLETE],
    [BookingAction.CANCEL],
]


def demo_login(slug: str, role: Role) -> str:
    """Email of a demo user: ``admin@west-nipt.example.com``."""
    return f"{role.value}@{slug}.example.com"


def demo_logins() -> list[tuple[str | None, str]]:
    """Every demo login as (tenant slug or ``None`` for the platform, email)."""
    logins: list[tuple[str | None, str]] = [(None, SUPER_ADMIN_EMAIL)]
    for demo in DEMO_TENANTS:
        logins += [(demo.slug, demo_login(demo.slug, role)) for role in DEMO_ROLES]
    return logins


async def disable_demo_logins(runtime: Runtime) -> list[str]:
    """Deactivate demo users that still have the public demo password (production start).

    A platform that was tried out in development and then served in
    production must not keep logins whose password is in the README. The
    users are deactivated (audited, reversible), not deleted.

    Returns:
        The emails deactivated.
    """
    disabled = []
    for slug, email in demo_logins():
        tenant = await runtime.store.tenant_by_slug(slug) if slug else None
        if slug and tenant is None:
            continue
        user = await runtime.store.user_by_email(tenant.id if tenant else None, email)
        if user is None or not user.active:
            continue
        if await verify_password(user.password_hash, DEMO_PASSWORD):
            reason = "demo password in production"
            if await lifecycle.deactivate_user(runtime, user, reason, "system:start"):
                disabled.append(email)
    return disabled


async def seed_demo(runtime: Runtime) -> bool:
    """Seed the demo tenants into an empty platform; returns False if tenants exist already.

    Several processes may start at once (``--workers 2``): one claim decides
    which of them seeds; the others leave it alone.
    """
    if await runtime.store.has_tenants():
        return False
    store = runtime.store
    if not await store.claim_once(DEMO_SEED_CLAIM, f"pid {os.getpid()}"):
        # Another worker seeds: serve only once the demo tenants exist.
        if not await store.wait_for_claim(DEMO_SEED_CLAIM, DEMO_SEED_WAIT_SECONDS):
            log.warning("another process has been seeding the demo for too long; going on")
        return False
    await lifecycle.create_super_admin(
        runtime,
        email=SUPER_ADMIN_EMAIL,
        name="Platform Root",
        password=DEMO_PASSWORD,
        actor="demo-seed",
    )
    for demo in DEMO_TENANTS:
        await _seed_tenant(runtime, demo)
    await store.finish_claim(DEMO_SEED_CLAIM)
    return True


async def _seed_tenant(runtime: Runtime, demo: DemoTenant) -> None:
    tenant = await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=demo.slug,
            name=demo.name,
            plan_key=demo.plan,
            owner_email=demo_login(demo.slug, Role.ADMIN),
            owner_name=f"{demo.name} Admin",
            owner_password=DEMO_PASSWORD,
            confirmation_prefix=demo.prefix,
            domains=[demo.domain],
        ),
        actor="demo-seed",
    )
    for role in DEMO_ROLES[1:]:
        await lifecycle.create_user(
            runtime,
            tenant,
            email=demo_login(demo.slug, role),
            name=f"{demo.name} {role.value}",
            role=role,
            password=DEMO_PASSWORD,
            actor="demo-seed",
        )
    db = runtime.tenant_database(tenant)
    catalog = CatalogService(db)
    services = [
        await catalog.create_service(
            ServiceFields(
                code=code, name=name, duration_minutes=minutes, price_minor=price, currency="TRY"
            )
        )
        for code, name, minutes, price in demo.services
    ]
    locations = [
        await catalog.create_location(f"{city} {district}", city, district)
        for city, district in demo.locations
    ]
    for code, doctor, percent in demo.referral_codes:
        await catalog.create_referral_code(code, percent * 100, doctor)
    customers = CustomerService(db, tenant)
    people = [
        await customers.create(CustomerFields(name=n, email=e, phone=p, tags=["demo"]))
        for n, e, p in demo.customers
    ]
    zone = ZoneInfo(tenant.settings.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    if demo.schedule is not None:
        await _seed_schedule(runtime, tenant, db, demo.schedule, next_holiday(today))
    # Booked as of 30 days ago: the history (past days) passes the notice rules.
    booked_at = datetime.now(UTC) - timedelta(days=30)
    bookings = BookingService(
        db, tenant, "demo-seed", outbox_setup(runtime), clock=lambda: booked_at
    )
    rng = random.Random(demo.slug)
    for i in range(demo.bookings):
        day = today + timedelta(days=i // 4 - 3)
        local = datetime(day.year, day.month, day.day, 9 + (i % 4) * 2, 0, tzinfo=zone)
        codes = [c[0] for c in demo.referral_codes]
        try:
            result = await bookings.create(
                BookingRequest(
                    service_id=str(rng.choice(services)["_id"]),
                    customer_id=str(people[i % len(people)]["_id"]),
                    location_id=str(locations[i % len(locations)]["_id"]),
                    starts_at=local,
                    referral_code=rng.choice([None, *codes]) if codes else None,
                ),
                allow_customer_id=True,
            )
        except AppError:
            continue
        for action in _STATUS_PLAN[i % len(_STATUS_PLAN)]:
            reason = "customer asked to cancel" if action == BookingAction.CANCEL else None
            await bookings.transition(str(result.booking["_id"]), action, reason)
    if demo.status != TenantStatus.ACTIVE:
        await lifecycle.set_tenant_status(
            runtime, demo.slug, demo.status, demo.status_reason, "demo-seed"
        )
    else:
        await runtime.store.update_tenant(
            tenant.id, {"status": TenantStatus.ACTIVE.value, "subscription.status": "active"}
        )
        runtime.registry.invalidate(demo.slug)


async def _seed_schedule(
    runtime: Runtime,
    tenant: Any,
    db: Database,
    schedule: DemoSchedule,
    closed: date,
) -> None:
    """Hours on every location, timing on every service (through the catalog service), staff."""
    hours = _hours(schedule.weekly_hours, closed).model_dump()
    catalog = CatalogService(db)
    for location in await catalog.locations(include_inactive=True):
        await catalog.update_location(str(location["_id"]), {"availability": hours})
    for service in await catalog.services(include_inactive=True):
        await catalog.update_service(str(service["_id"]), schedule.service_timing)
    staff = StaffService(db, tenant, runtime.store.user_by_id)
    for name, email, role in schedule.staff:
        user = None
        if role is not None:
            user = await runtime.store.user_by_email(tenant.id, demo_login(tenant.slug, Role(role)))
        await staff.create(
            StaffFields(
                name=name,
                email=email,
                user_id=str(user.id) if user else None,
                availability=_hours(schedule.staff_hours, closed).model_dump()
                if user is None and schedule.staff_hours
                else None,
            )
        )
