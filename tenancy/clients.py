"""Client registry: one ``AsyncMongoClient`` (one connection pool) per cluster.

Every tenant on a cluster shares that cluster's client; clients open lazily
on first use and close on shutdown. Never one client per tenant or request.
:func:`open_client` is the one place that opens a MongoDB client.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import AsyncMongoClient

from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation
from tenancy.mongo_types import Client, Database

log = logging.getLogger(__name__)
APP_NAME = "tenant-graphql"


def open_client(url: str, **options: Any) -> Client:
    """A new client for ``url``: timezone-aware datetimes (UTC), our app name.

    Args:
        url: a ``mongodb://`` or ``mongodb+srv://`` URL.
        options: further ``AsyncMongoClient`` keyword options
            (``serverSelectionTimeoutMS``...).
    """
    return AsyncMongoClient(url, tz_aware=True, appname=APP_NAME, **options)


class ClientRegistry:
    """Maps cluster names to shared clients.

    Args:
        cluster_urls: cluster name -> MongoDB URL. An empty URL is a cluster
            whose address is not known yet (the embedded server before it
            started); :meth:`set_url` fills it in.
        client_options: extra ``AsyncMongoClient`` keyword options for every
            cluster (e.g. ``serverSelectionTimeoutMS``).
    """

    def __init__(
        self, cluster_urls: dict[str, str], client_options: dict[str, Any] | None = None
    ) -> None:
        self._urls = dict(cluster_urls)
        self._options = dict(client_options or {})
        self._clients: dict[str, Client] = {}

    @property
    def cluster_names(self) -> list[str]:
        return list(self._urls)

    def url(self, cluster: str) -> str:
        """The URL of a configured cluster.

        Raises:
            AppError(NOT_FOUND) for a cluster name that is not configured.
        """
        try:
            return self._urls[cluster]
        except KeyError:
            raise AppError(
                ErrorCode.NOT_FOUND,
                f"cluster {cluster!r} is not configured (known: {', '.join(self._urls)})",
            ) from None

    def client(self, cluster: str) -> Client:
        """The shared client of ``cluster``, created on first use.

        Raises:
            AppError(NOT_FOUND) for a cluster name that is not configured;
            AppError(DATABASE_UNAVAILABLE) when its URL is not known yet.
        """
        client = self._clients.get(cluster)
        if client is None:
            url = self.url(cluster)
            if not url:
                raise AppError(
                    ErrorCode.DATABASE_UNAVAILABLE,
                    f"cluster {cluster!r} has no URL yet (the embedded database is not started)",
                )
            client = open_client(url, **self._options)
            self._clients[cluster] = client
        return client

    def database(self, location: DatabaseLocation) -> Database:
        """A handle on one database of one cluster."""
        return self.client(location.cluster)[location.name]

    def set_url(self, cluster: str, url: str) -> None:
        """Give a cluster its URL (the embedded server's, once it runs); drops an open client."""
        self._urls[cluster] = url
        self._clients.pop(cluster, None)

    def add_cluster(self, name: str, url: str) -> None:
        """Register a cluster at run time (operators copying to ``--to-url``)."""
        if name in self._urls and self._urls[name] != url:
            raise AppError(ErrorCode.ALREADY_EXISTS, f"cluster {name!r} already has another URL")
        self._urls[name] = url

    async def close(self) -> None:
        """Close every open client (Starlette lifespan shutdown, CLI exit)."""
        for name, client in self._clients.items():
            await client.close()
            log.debug("closed MongoDB client for cluster %s", name)
        self._clients.clear()
