"""How tenancy brings a new database to the code's schema version, without knowing how.

tenancy creates databases: the platform database at the first start
(:meth:`tenancy.runtime.Runtime.start`) and each tenant's at provisioning
(:func:`tenancy.lifecycle.provision_tenant`). Both are born at the latest
version of the versioned migrations. Those live in the ``migrations``
package, which depends on ``tenancy`` (errors, models, indexes...), so the
dependency is inverted: tenancy calls the :data:`SchemaUpgrader` its
:class:`~tenancy.runtime.Runtime` holds and never imports ``migrations``.

``Runtime.build(settings, upgrade_schema=...)`` sets it; the composition
roots (the server, ``tenantctl``, tests) build their platform with
:func:`migrations.runtime.build_runtime`, which passes the versioned
migrations' ``bring_to_latest``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from tenancy.mongo_types import Database

#: Which migrations apply: those of the platform database or of a tenant database.
SchemaScope = Literal["platform", "tenant"]

SchemaUpgrader = Callable[[Database, SchemaScope, str], Awaitable[object]]
"""``await upgrade(db, scope, actor)``: apply every pending migration of ``scope``
to ``db``, recording each (``actor`` is who asked, for the record).

Raises ``AppError`` when the database cannot be brought to the latest version
(``MIGRATION_LOCKED`` while another process migrates it, ``MIGRATION_FAILED``...).
"""

#: The collection in which an upgrader records what it applied to a database
#: (its ledger); a platform database that has one is not new.
LEDGER_COLLECTION = "_migrations"
