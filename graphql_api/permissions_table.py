"""Role -> permission table (the seeds' RBAC: super_admin, admin, staff/user, viewer).

Anonymous callers (a tenant's public booking site) may read the catalog
and its free slots and the tenant's public profile, check a discount code, book
with inline customer details, and look up (and cancel) one booking by
confirmation number plus email; nothing more.
"""

from __future__ import annotations

from tenancy.models import Role

# Public reads of issue 8 (also in VIEWER upward).
PUBLIC = frozenset({"slots.read", "discounts.validate", "tenant.profile", "bookings.lookup"})
ANONYMOUS_PERMISSIONS = frozenset({"services.read", "bookings.create"}) | PUBLIC
VIEWER = frozenset({"tenant.read", "services.read", "customers.read", "bookings.read"}) | PUBLIC
STAFF = VIEWER | {
    "customers.write",
    "bookings.create",
    "bookings.write",
    "notifications.read",  # a booking's messages, the outbox
    "notifications.write",  # retryNotification
}
ADMIN = STAFF | {"services.write", "settings.write", "users.write", "discounts.read"}
ADMIN |= {"billing.manage"}  # issue 10: checkout, portal, plan changes, own invoices
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


# Accounts (issue 11): tenant admins read their tenant's audit log, super-admins
# every tenant's, and super-admins manage the platform's feature flags.
ROLE_PERMISSIONS[Role.ADMIN] = ROLE_PERMISSIONS[Role.ADMIN] | {"audit.read"}
ROLE_PERMISSIONS[Role.SUPER_ADMIN] = ROLE_PERMISSIONS[Role.SUPER_ADMIN] | {
    "audit.read",
    "flags.write",
}
