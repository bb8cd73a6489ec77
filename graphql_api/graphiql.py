"""GraphiQL from packaged assets, with a tenant selector and a login helper (issue 12, item 7).

Served only where GraphiQL is on (``APP_GRAPHIQL``; by default in development):
``GET /graphql`` and ``GET /t/{slug}/graphql`` from a browser answer this page,
and ``/graphiql/static/`` its files. Everything it loads is in the package
(``graphql_api/static/graphiql/``: GraphiQL 3, React 18, our
``tenant-graphiql.js``; versions and checksums in ``SOURCES.txt``), so it
works without network access. The page has:

- a tenant selector: the requests go to ``/t/{slug}/graphql`` (empty: the
  platform endpoint ``/graphql``), with the tenants of the platform offered;
- a login helper: it calls the ``login`` mutation and sends the token as
  ``Authorization: Bearer ...`` on every request after it (kept in the
  browser tab's session storage); demo logins are offered when the demo data
  is present.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from starlette.staticfiles import StaticFiles

from graphql_api.demo import DEMO_PASSWORD, SUPER_ADMIN_EMAIL, demo_logins
from tenancy import lifecycle
from tenancy.runtime import Runtime

ASSETS_PATH = "/graphiql/static"
ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
MAX_LISTED_TENANTS = 100

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>GraphiQL - {title}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{assets}/graphiql.min.css">
  <link rel="stylesheet" href="{assets}/tenant-graphiql.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script type="application/json" id="graphiql-config">{config}</script>
  <script src="{assets}/react.production.min.js"></script>
  <script src="{assets}/react-dom.production.min.js"></script>
  <script src="{assets}/graphiql.min.js"></script>
  <script src="{assets}/tenant-graphiql.js"></script>
</body>
</html>
"""


def assets_app() -> StaticFiles:
    """The packaged GraphiQL files, to mount at ``ASSETS_PATH``."""
    return StaticFiles(directory=ASSETS_DIR)


async def page_config(runtime: Runtime, tenant: str | None) -> dict[str, Any]:
    """What the page's script needs: the tenant of the URL, the platform's tenants
    (at most ``MAX_LISTED_TENANTS``, newest first) and, when the demo data is
    present, the demo logins with their (public) password."""
    page = await lifecycle.list_tenants(runtime, first=MAX_LISTED_TENANTS)
    slugs = sorted(str(doc["slug"]) for doc in page.docs)
    demo = await runtime.store.user_by_email(None, SUPER_ADMIN_EMAIL) is not None
    logins = [{"tenant": slug, "email": email} for slug, email in demo_logins()] if demo else []
    return {
        "tenant": tenant or "",
        "tenants": slugs,
        "logins": logins,
        "demoPassword": DEMO_PASSWORD if demo else "",
    }


def render_page(config: dict[str, Any]) -> str:
    """The HTML page; ``config`` goes in as JSON that cannot end its script element."""
    data = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e")
    title = html.escape(config.get("tenant") or "platform")
    return _PAGE.format(title=title, assets=ASSETS_PATH, config=data)
