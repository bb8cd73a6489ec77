"""ASGI entry point for uvicorn and other servers: ``graphql_api.asgi:app``."""

from graphql_api.app import create_app

app = create_app()
