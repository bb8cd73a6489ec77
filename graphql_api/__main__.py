"""``python -m graphql_api``: serve the API with uvicorn.

Settings come from the environment (``APP_*``, see README); the flags here
only choose how to serve.
"""

from __future__ import annotations

import os

import typer
import uvicorn

cli = typer.Typer(add_completion=False, help=__doc__)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 for all."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(
        1, min=1, help="Worker processes (each serves requests; they share the database)."
    ),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Start the GraphQL server.

    Example: python -m graphql_api --port 8000
    """
    from graphql_api.app import PUBLIC_URL_ENV

    os.environ.setdefault(PUBLIC_URL_ENV, f"http://{host}:{port}")
    uvicorn.run(
        "graphql_api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=log_level,
        # Our structured logs (graphql_api.logging_setup) replace uvicorn's formatting,
        # and our access line (APP_ACCESS_LOG) its access log.
        log_config=None,
        access_log=False,
        # X-Forwarded-For is trusted only from APP_TRUSTED_PROXIES (graphql_api.app).
        proxy_headers=False,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
