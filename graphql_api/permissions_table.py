"""Role -> permission table (the seeds' RBAC: super_admin, admin, staff/user, viewer).

Anonymous callers (a tenant's public booking site) may read the catalog
and its free slots, and book with inline customer details, nothing more.
"""

from __future__ import annotations

from tenancy.models import Role

ANONYMOUS_PERMISSIONS = frozenset(
    {"services.read", "slots.read", "bookings.create", "discounts.validate"}
)
VIEWER = frozenset(
    {
        "tenant.read",
        "services.read",
        "slots.read",
        "customers.read",
        "bookings.read",
        "discounts.validate",
    }
)
STAFF = VIEWER | {"customers.write", "bookings.create", "bookings.write"}
ADMIN = STAFF | {"services.write", "settings.write", "users.write", "discounts.read"}
SUPER_ADMIN = ADMIN | {"platform.read", "platform.write"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: VIEWER,
    Role.STAFF: STAFF,
    Role.ADMIN: ADMIN,
    Role.SUPER_ADMIN: SUPER_ADMIN,
}


def permissions_for(role: Role | None) -> frozenset[str]:
    """Permissions of a role; ``None`` is the anonymous caller."""
    return ROLE_PERMISSIONS[role] if role else ANONYMOUS_PERMISSIONS
