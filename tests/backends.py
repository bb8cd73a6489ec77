"""The database backends the suite runs on, chosen by one switch.

Every test that uses the ``backend`` fixture (directly or through
``settings``, ``platform``, ``demo``...) runs once per leg:

- ``mock``: the in-process mock (pymongo-async-mock over mongomock, with the
  shims of ``tests/mock_shims.py``). Fast; it stands in for MongoDB behind
  :func:`tenancy.clients.open_client`, the one place the product opens a
  client, so the product code is the same.
- ``wire``: real SecantusDB servers (MongoDB wire protocol, WiredTiger),
  started once per test process (per xdist worker) in a temporary
  directory: cluster ``default`` and, on first use, a second cluster for the
  tests that move data between clusters. Every database is dropped after
  each test.
- ``url``: any real MongoDB given by ``APP_TEST_MONGODB_URL`` (and
  ``APP_TEST_MONGODB_URL_2`` for a second cluster; without it the
  two-cluster tests are skipped and say why). It replaces ``wire``. Its
  databases are dropped after each test, so point it at a server of its
  own; it runs serially (``-n 0``).

``APP_TEST_BACKENDS`` picks legs (default ``mock,wire``; ``mock`` alone
for a quick run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

import tests.mock_shims as mock_shims
from tenancy import clients as clients_module
from tenancy.local_server import LocalServer

SYSTEM_DATABASES = frozenset({"admin", "config", "local"})
SECOND_CLUSTER = "eu-2"


def legs() -> list[str]:
    """The legs this run covers, from ``APP_TEST_BACKENDS`` / ``APP_TEST_MONGODB_URL``."""
    chosen = os.environ.get("APP_TEST_BACKENDS", "mock,wire").replace(" ", "").split(",")
    if os.environ.get("APP_TEST_MONGODB_URL"):
        chosen = ["url" if leg == "wire" else leg for leg in chosen]
        if "url" not in chosen:
            chosen.append("url")
    unknown = set(chosen) - {"mock", "wire", "url"}
    if unknown:
        raise pytest.UsageError(f"APP_TEST_BACKENDS: unknown legs {sorted(unknown)}")
    return chosen


class Backend:
    """One test's view of a leg: cluster URLs, clients, and cleanup.

    ``url(cluster)`` is what settings and ``ClientRegistry`` are given;
    ``client(cluster)`` a client for the test's own direct use (closed and
    its databases dropped at teardown).
    """

    name: str

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    @property
    def is_mock(self) -> bool:
        return self.name == "mock"

    def url(self, cluster: str = "default") -> str:
        raise NotImplementedError

    def client(self, cluster: str = "default") -> Any:
        if cluster not in self._clients:
            self._clients[cluster] = clients_module.open_client(self.url(cluster))
        return self._clients[cluster]

    def cluster_urls(self, *extra: str) -> dict[str, str]:
        """``{"default": url, extra...}`` for ``Settings.extra_clusters`` and the like."""
        return {name: self.url(name) for name in ("default", *extra)}

    async def cleanup(self) -> None:
        """Drop what the test created; close the test's clients."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


class MockBackend(Backend):
    """Fresh in-process mock servers for one test, one per cluster URL."""

    name = "mock"

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self._servers: dict[str, Any] = {}
        monkeypatch.setattr(clients_module, "open_client", self.open_client)

    def url(self, cluster: str = "default") -> str:
        return f"mongodb://{cluster}.mock.test:27017/"

    def open_client(self, url: str, **options: Any) -> Any:
        """The mock server of ``url`` (the same object for the same URL, like one server)."""
        if url not in self._servers:
            self._servers[url] = mock_shims.new_mock_client(url.split("//", 1)[-1].split(".")[0])
        return self._servers[url]


class ServerBackend(Backend):
    """Real servers (SecantusDB started here, or ``APP_TEST_MONGODB_URL``) for one test."""

    def __init__(self, name: str, urls: ServerUrls) -> None:
        super().__init__()
        self.name = name
        self._urls = urls

    def url(self, cluster: str = "default") -> str:
        return self._urls.get(cluster)

    async def cleanup(self) -> None:
        for cluster in self._urls.started():
            client: AsyncMongoClient = clients_module.open_client(self._urls.get(cluster))
            try:
                for name in await client.list_database_names():
                    if name not in SYSTEM_DATABASES:
                        await client.drop_database(name)
            finally:
                await client.close()
        await super().cleanup()


class ServerUrls:
    """Cluster URLs of one test process: started on first use, stopped at the end."""

    def __init__(self, root: Path, given: dict[str, str]) -> None:
        self._root = root
        self._given = given
        self._servers: dict[str, LocalServer] = {}
        self._urls: dict[str, str] = {}

    def get(self, cluster: str) -> str:
        name = "default" if cluster == "default" else SECOND_CLUSTER
        if name not in self._urls:
            self._urls[name] = self._start(name)
        return self._urls[name]

    def _start(self, name: str) -> str:
        if self._given:
            if name not in self._given:
                pytest.skip(f"needs a second cluster: set APP_TEST_MONGODB_URL_2 ({name})")
            return self._given[name]
        server = LocalServer(self._root / name, sync_on_commit=False)
        self._servers[name] = server
        return server.acquire()

    def started(self) -> list[str]:
        return list(self._urls)

    def stop(self) -> None:
        for server in self._servers.values():
            server.release()


def server_urls(tmp_root: Path) -> Iterator[ServerUrls]:
    """The process's servers: given by URL, or SecantusDB started in ``tmp_root``."""
    given = {}
    if os.environ.get("APP_TEST_MONGODB_URL"):
        given["default"] = os.environ["APP_TEST_MONGODB_URL"]
        if os.environ.get("APP_TEST_MONGODB_URL_2"):
            given[SECOND_CLUSTER] = os.environ["APP_TEST_MONGODB_URL_2"]
    urls = ServerUrls(tmp_root, given)
    try:
        yield urls
    finally:
        urls.stop()
