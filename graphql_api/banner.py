"""The loud start-up notice of embedded mode, with demo logins and a request."""

from __future__ import annotations

import sys

from graphql_api.demo import DEMO_PASSWORD, DEMO_TENANTS, SUPER_ADMIN_EMAIL, demo_login
from tenancy.models import Role
from tenancy.settings import Settings


def print_embedded_banner(
    settings: Settings, base: str, database_url: str, *, demo_present: bool = True
) -> None:
    """Print to stderr that the server runs on the local embedded database, not a cluster.

    ``base`` is the server's URL, e.g. ``http://127.0.0.1:8000``;
    ``database_url`` the local SecantusDB server's MongoDB URL. Without
    ``demo_present`` (the data directory held other data, e.g. a legacy
    import, when the server first started) no demo logins are listed.
    """
    storage = f"Data: {settings.embedded_dir.absolute()}  MongoDB URL: {database_url}"
    tenants = "\n".join(
        f"    {t.slug:<16} {t.status.value:<10} admin: {demo_login(t.slug, Role.ADMIN)}"
        f"  staff: {demo_login(t.slug, Role.STAFF)}  viewer: {demo_login(t.slug, Role.VIEWER)}"
        for t in DEMO_TENANTS
    )
    demo = (
        f""" Demo logins (password for all: {DEMO_PASSWORD}):
    super-admin      {SUPER_ADMIN_EMAIL}
{tenants}"""
        if demo_present
        else " No demo data: the data directory already held tenants when it was first served."
    )
    login = (
        '{"query":"mutation { login(email: \\"admin@west-nipt.example.com\\", password: '
        f'\\"{DEMO_PASSWORD}\\", tenant: \\"west-nipt\\") '
        '{ token userErrors { code message } } }"}'
    )
    print(
        f"""
==============================================================================
 EMBEDDED MODE: no APP_MONGODB_URL is set, so this server runs on a local
 SecantusDB server (MongoDB wire protocol, WiredTiger storage, every
 acknowledged write synced), seeded with demo data when empty.
 {storage}
 tenantctl works alongside. For production set APP_MONGODB_URL=mongodb://...
------------------------------------------------------------------------------
{demo}
 GraphQL:  {base}/graphql   or  {base}/t/<slug>/graphql   (GraphiQL in a browser)
 Try:
   curl -s {base}/t/west-nipt/graphql -H 'content-type: application/json' \\
     -d '{login}'
==============================================================================
""",
        file=sys.stderr,
        flush=True,
    )
