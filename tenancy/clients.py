"""Client registry: one ``AsyncMongoClient`` (one connection pool) per cluster.

Every tenant on a cluster shares that cluster's client; clients open lazily
on first use and close on shutdown. Never one client per tenant or request.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation

log = logging.getLogger(__name__)


class ClientRegistry:
    """Maps cluster names to shared clients.

    Args:
        cluster_urls: cluster name -> MongoDB URL. An empty URL selects the
            in-process mock (one isolated mock server per cluster name).
        client_options: extra ``AsyncMongoClient`` keyword options for every
            real cluster (e.g. ``serverSelectionTimeoutMS``).
    """

    def __init__(
        self, cluster_urls: dict[str, str], client_options: dict[str, Any] | None = None
    ) -> None:
        self._urls = dict(cluster_urls)
        self._options = dict(client_options or {})
        self._clients: dict[str, Any] = {}

    @property
    def cluster_names(self) -> list[str]:
        return list(self._urls)

    def uses_mock(self, cluster: str) -> bool:
        return not self._url(cluster)

    def _url(self, cluster: str) -> str:
        try:
            return self._urls[cluster]
        except KeyError:
            raise AppError(
                ErrorCode.NOT_FOUND,
                f"cluster {cluster!r} is not configured (known: {', '.join(self._urls)})",
            ) from None

    def client(self, cluster: str) -> AsyncMongoClient:
        """The shared client of ``cluster``, created on first use.

        Raises:
            AppError(NOT_FOUND) for a cluster name that is not configured.
        """
        client = self._clients.get(cluster)
        if client is None:
            url = self._url(cluster)
            if url:
                client = AsyncMongoClient(
                    url, tz_aware=True, appname="tenant-graphql", **self._options
                )
            else:
                from tenancy.mock import new_mock_client

                client = new_mock_client(cluster)
            self._clients[cluster] = client
        return client

    def database(self, location: DatabaseLocation) -> AsyncDatabase:
        """A handle on one database of one cluster."""
        return self.client(location.cluster)[location.name]

    def add_cluster(self, name: str, url: str) -> None:
        """Register a cluster at run time (operators copying to ``--to-url``)."""
        if name in self._urls and self._urls[name] != url:
            raise AppError(ErrorCode.ALREADY_EXISTS, f"cluster {name!r} already has another URL")
        self._urls[name] = url

    async def close(self) -> None:
        """Close every open client (Starlette lifespan shutdown, CLI exit)."""
        for name, client in self._clients.items():
            result = client.close()
            if hasattr(result, "__await__"):
                await result
            log.debug("closed MongoDB client for cluster %s", name)
        self._clients.clear()
