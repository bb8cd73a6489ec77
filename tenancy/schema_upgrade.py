"""How tenancy brings a new database to the code's schema version, without knowing how.

tenancy creates databases: the platform database at the first start
(:meth:`tenancy.runtime.Platform.start`) and each tenant's at provisioning
(:func:`tenancy.service.provision_tenant`). Both are born at the latest
version of the versioned migrations. Those live in the ``migrations``
package, which depends on ``tenancy`` (errors, models, indexes...), so the
dependency is inverted: tenancy calls the :data:`SchemaUpgrader` its
:class:`~tenancy.runtime.Platform` holds and never imports ``migrations``.

``Platform.build(settings, upgrade_schema=...)`` sets it. Without one, the
platform uses the upgrader this distribution installs under the entry point
group :data:`ENTRY_POINT_GROUP` (``pyproject.toml``:
``migrations = "migrations.database:bring_to_latest"``), so every
``Platform.build(settings)`` (the server, ``tenantctl``, tests) migrates the
same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Literal

from pymongo.asynchronous.database import AsyncDatabase

from tenancy.errors import AppError, ErrorCode

#: Which migrations apply: those of the platform database or of a tenant database.
SchemaScope = Literal["platform", "tenant"]

SchemaUpgrader = Callable[[AsyncDatabase, SchemaScope, str], Awaitable[object]]
"""``await upgrade(db, scope, actor)``: apply every pending migration of ``scope``
to ``db``, recording each (``actor`` is who asked, for the record).

Raises ``AppError`` when the database cannot be brought to the latest version
(``MIGRATION_LOCKED`` while another process migrates it, ``MIGRATION_FAILED``...).
"""

ENTRY_POINT_GROUP = "tenancy.schema_upgrader"

#: The collection in which an upgrader records what it applied to a database
#: (its ledger); a platform database that has one is not new.
LEDGER_COLLECTION = "_migrations"


@lru_cache(maxsize=1)
def installed_schema_upgrader() -> SchemaUpgrader:
    """The upgrader installed under :data:`ENTRY_POINT_GROUP` (loaded once).

    Raises:
        AppError(INTERNAL_ERROR): none or several are installed (the project's
        metadata is stale: reinstall it).
    """
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    if len(found) != 1:
        names = ", ".join(sorted(ep.value for ep in found)) or "none"
        raise AppError(
            ErrorCode.INTERNAL_ERROR,
            f"expected one schema upgrader in entry point group {ENTRY_POINT_GROUP!r}, "
            f"found {names}; reinstall the project (make, or pip install -e '.[dev]')",
        )
    upgrader: SchemaUpgrader = found[0].load()
    return upgrader
