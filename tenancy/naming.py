"""Slug and database-name rules.

MongoDB facts these rules respect (MongoDB manual, "Naming Restrictions"):
database names are at most 63 bytes, may not contain ``/\\. "$*<>:|?`` or
NUL, and two names that differ only in case collide on real servers.

Slugs are lowercase ASCII letters, digits and single inner hyphens, so they
are URL- and DNS-label-safe. A tenant database is named ``<prefix><slug>``:
the map from slug to name is injective, and since slugs are lowercase the
names cannot differ only by case. With the prefix at most 10 bytes and the
slug at most 40, every name fits in 63 bytes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from tenancy.errors import AppError, ErrorCode, validation_error

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 40
MONGODB_DB_NAME_MAX_BYTES = 63
_SLUG_RE = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*")  # used with fullmatch
_FORBIDDEN_DB_CHARS = set('/\\. "$*<>:|?\0')

RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "cdn",
        "config",
        "dashboard",
        "docs",
        "graphql",
        "health",
        "healthz",
        "help",
        "local",
        "login",
        "logout",
        "mail",
        "platform",
        "readyz",
        "root",
        "signup",
        "static",
        "status",
        "support",
        "system",
        "www",
    }
)


def validate_slug(slug: str, field: list[str] | None = None) -> str:
    """Check a tenant slug and return it.

    Args:
        slug: the candidate.
        field: input path reported on failure (default ``["slug"]``).

    Raises:
        AppError(VALIDATION_FAILED) naming ``field`` with the broken rule.
    """
    field = field or ["slug"]
    if not SLUG_MIN_LENGTH <= len(slug) <= SLUG_MAX_LENGTH:
        raise validation_error(
            field, f"slug must be {SLUG_MIN_LENGTH}-{SLUG_MAX_LENGTH} characters long"
        )
    if not _SLUG_RE.fullmatch(slug):
        raise validation_error(
            field,
            "slug may contain only lowercase a-z, digits and single hyphens between them, "
            "and must start with a letter",
        )
    if slug in RESERVED_SLUGS:
        raise validation_error(field, f"slug {slug!r} is reserved; choose another")
    return slug


def slugify(text: str) -> str:
    """Best-effort slug from free text (``"Omega West_NIPT"`` -> ``"omega-west-nipt"``).

    The result still has to pass :func:`validate_slug`.
    """
    ascii_text = (
        unicodedata.normalize("NFKD", text.replace("ı", "i")).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


def tenant_database_name(slug: str, prefix: str) -> str:
    """Database name for a tenant: ``prefix + slug`` (e.g. ``t_west-nipt``).

    Raises:
        AppError(VALIDATION_FAILED) if the slug breaks the slug rules.
    """
    return validate_database_name(prefix + validate_slug(slug))


def validate_database_name(name: str) -> str:
    """Check a MongoDB database name against the server's rules; return it.

    Raises:
        AppError(VALIDATION_FAILED) naming field ``database``.
    """
    if not name:
        raise validation_error("database", "database name must not be empty")
    if len(name.encode()) > MONGODB_DB_NAME_MAX_BYTES:
        raise validation_error(
            "database", f"database name must be at most {MONGODB_DB_NAME_MAX_BYTES} bytes"
        )
    bad = sorted(set(name) & _FORBIDDEN_DB_CHARS)
    if bad:
        raise validation_error("database", f"database name may not contain {''.join(bad)!r}")
    return name


def database_key(cluster: str, name: str) -> str:
    """Case-folded identity of a database, for a unique index across tenant records.

    Two records whose names differ only in case get the same key, as they
    would collide on a real (case-insensitive-on-create) server.
    """
    return f"{cluster}/{name.lower()}"


async def check_no_case_twin(db: Any) -> None:
    """Refuse to create ``db`` when its cluster holds a database whose name differs only by case.

    A real MongoDB server refuses such a database itself; SecantusDB and the
    mock do not, so the product checks on every backend before it writes.

    Args:
        db: the handle of the database about to be written (``.name``, ``.client``).
    Raises:
        AppError(ALREADY_EXISTS) naming the existing database.
    """
    name = validate_database_name(db.name)
    for existing in await db.client.list_database_names():
        if existing != name and existing.lower() == name.lower():
            raise AppError(
                ErrorCode.ALREADY_EXISTS,
                f"database {name!r} differs only by case from the existing {existing!r}; "
                "MongoDB refuses such names: choose another",
                ["database"],
            )
