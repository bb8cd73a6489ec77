"""ASGI entry point for uvicorn and other servers: ``graphql_api.asgi:app``.

Logging is configured first (structured lines, ``graphql_api.logging_setup``).
"""

from graphql_api.app import create_app
from graphql_api.logging_setup import configure_logging
from tenancy.settings import Settings

settings = Settings()
configure_logging(settings)
app = create_app(settings)
