"""The database a benchmark runs on: the embedded SecantusDB server or the tests' mock."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOCK_URL = "mongodb://bench.mock.test"


@contextmanager
def bench_database(backend: str) -> Iterator[str]:
    """Yield a MongoDB URL for ``backend`` ("embedded" or "mock"); stop it afterwards.

    "embedded" starts a throw-away SecantusDB server in a temporary directory;
    "mock" routes every client of this process to one in-process mock.
    """
    if backend == "mock":
        import tests.mock_shims as mock_shims
        from tenancy import clients

        mock = mock_shims.new_mock_client("bench")
        clients.open_client = lambda url, **options: mock  # type: ignore[assignment]
        yield MOCK_URL
        return
    from tenancy.local_server import LocalServer

    with tempfile.TemporaryDirectory() as directory, LocalServer(Path(directory)) as url:
        yield url
