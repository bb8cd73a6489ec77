"""Platform 0003: custom domains stored in their ASCII (punycode) form.

Browsers send internationalised hostnames in ``Host`` as punycode
(``xn--bcher-kva.example``). Earlier versions accepted and stored Unicode
labels (``bücher.example``), which such a request never matched. This
migration rewrites each claim in ``tenant_domains`` and each tenant's
``domains`` list to the form ``tenancy.hostnames.to_ascii_hostname`` gives.
A claim is re-inserted under its new id before the old one is removed, so an
interrupted run leaves both (never neither) and a re-run finishes it.
"""

from __future__ import annotations

from contextlib import suppress

from pymongo.errors import DuplicateKeyError

from tenancy.hostnames import to_ascii_hostname
from tenancy.mongo_types import Database

DESCRIPTION = "custom domains stored as punycode (IDNA) so that Host headers match them"


async def up(db: Database) -> None:
    """Rewrite non-ASCII domain claims and tenant domain lists (idempotent)."""
    async for claim in db["tenant_domains"].find({}):
        old = claim["_id"]
        new = to_ascii_hostname(old) if isinstance(old, str) else None
        if new is None or new == old:
            continue
        with suppress(DuplicateKeyError):  # already converted by an interrupted run
            await db["tenant_domains"].insert_one({**claim, "_id": new})
        await db["tenant_domains"].delete_one({"_id": old})
    async for tenant in db["tenants"].find({"domains.0": {"$exists": True}}, {"domains": 1}):
        domains = [to_ascii_hostname(d) or d for d in tenant["domains"]]
        if domains != tenant["domains"]:
            await db["tenants"].update_one(
                {"_id": tenant["_id"]}, {"$set": {"domains": sorted(set(domains))}}
            )


down = None  # the ASCII form is the only one the server matches
