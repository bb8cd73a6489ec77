"""Embedded mode that persists: the in-process mock's databases kept in a directory.

Layout of ``Settings.embedded_dir``::

    LOCK                      held (OS file lock) by the one process using the directory
    LOCK.holder               who holds it: pid, command, since (for the refusal message)
    CURRENT                   name of the latest complete snapshot
    snapshots/<id>/<cluster>/<database>/   one export per database (tenancy.dump format)

A snapshot is written completely before ``CURRENT`` is switched to it with an
atomic rename, so a crash while saving leaves the previous snapshot in
force. Embedded mode is for one process on one machine (trying the API, an
operator command followed by a server start); production runs on MongoDB.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from tenancy.clients import ClientRegistry
from tenancy.dump import MANIFEST_NAME, export_database, import_database
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow

_SKIP_DATABASES = frozenset({"admin", "config", "local"})
KEEP_SNAPSHOTS = 2


class EmbeddedStore:
    """Loads and saves the mock clients of a ``ClientRegistry`` to a directory.

    Args:
        directory: the embedded data directory (created when missing).
        holder: who uses it, shown to a second process that is refused
            (e.g. ``"server on 127.0.0.1:8000"``, ``"tenantctl migrate up"``).
    """

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory.absolute()
        self.holder = holder
        self._lock = FileLock(str(self.directory / "LOCK"), timeout=0)

    @property
    def _holder_file(self) -> Path:
        return self.directory / "LOCK.holder"

    def acquire(self) -> None:
        """Take the directory for this process.

        Raises:
            AppError(LOCKED) naming the process that holds it.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            who = "another process"
            with suppress(OSError, ValueError):
                info = json.loads(self._holder_file.read_text())
                who = f"{info['holder']} (pid {info['pid']}, since {info['since']})"
            raise AppError(
                ErrorCode.LOCKED,
                f"the embedded data directory {self.directory} is in use by {who}; "
                "stop it first, or point APP_EMBEDDED_DIR elsewhere",
            ) from None
        self._holder_file.write_text(
            json.dumps({"holder": self.holder, "pid": os.getpid(), "since": utcnow().isoformat()})
        )

    def release(self) -> None:
        with suppress(OSError):
            self._holder_file.unlink()
        self._lock.release()

    def _current(self) -> Path | None:
        pointer = self.directory / "CURRENT"
        if not pointer.exists():
            return None
        snapshot = self.directory / "snapshots" / pointer.read_text().strip()
        return snapshot if snapshot.is_dir() else None

    async def load(self, clients: ClientRegistry) -> int:
        """Import the current snapshot into the (empty) mock clients; returns databases loaded.

        Raises:
            AppError(MANIFEST_INVALID) when a file of the snapshot does not
            check out, AppError(VERIFICATION_FAILED) when a database does not
            load completely. Nothing is saved over the snapshot then.
        """
        snapshot = self._current()
        if snapshot is None:
            return 0
        loaded = 0
        for cluster_dir in sorted(p for p in snapshot.iterdir() if p.is_dir()):
            if cluster_dir.name not in clients.cluster_names or not clients.uses_mock(
                cluster_dir.name
            ):
                continue
            client = clients.client(cluster_dir.name)
            for db_dir in sorted(p for p in cluster_dir.iterdir() if (p / MANIFEST_NAME).exists()):
                result = await import_database(db_dir, client[db_dir.name], verify=False)
                if not result.ok:
                    failed = ", ".join(f"{c.name}: {c.error}" for c in result.failed)
                    raise AppError(
                        ErrorCode.VERIFICATION_FAILED,
                        f"embedded snapshot {db_dir} did not load ({failed}); "
                        "the directory was left as it is",
                    )
                loaded += 1
        return loaded

    async def save(self, clients: ClientRegistry) -> Path:
        """Write every mock database to a new snapshot and switch ``CURRENT`` to it atomically."""
        snapshots = self.directory / "snapshots"
        snapshot_id = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        target = snapshots / snapshot_id
        try:
            for cluster in clients.cluster_names:
                if not clients.uses_mock(cluster):
                    continue
                client = clients.client(cluster)
                for name in await client.list_database_names():
                    if name not in _SKIP_DATABASES:
                        await export_database(client[name], target / cluster / name)
            target.mkdir(parents=True, exist_ok=True)
            pointer_tmp = self.directory / "CURRENT.tmp"
            pointer_tmp.write_text(snapshot_id)
            os.replace(pointer_tmp, self.directory / "CURRENT")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        # Keep the previous snapshot as well: a fallback if the new one proves bad.
        for old in sorted(p.name for p in snapshots.iterdir())[:-KEEP_SNAPSHOTS]:
            shutil.rmtree(snapshots / old, ignore_errors=True)
        return target


@asynccontextmanager
async def embedded_session(
    directory: Path, clients: ClientRegistry, holder: str
) -> AsyncIterator[EmbeddedStore]:
    """Lock ``directory``, load it into the mock clients, and save + unlock at the end.

    The save happens whether the body succeeds or fails, so what a failed
    command did is kept, as it would be on a real server. A snapshot that
    does not load raises before the body runs and is never saved over.
    """
    store = EmbeddedStore(directory, holder)
    store.acquire()
    try:
        await store.load(clients)
    except BaseException:
        store.release()
        raise
    try:
        yield store
        await store.save(clients)
    except BaseException:
        with suppress(Exception):
            await store.save(clients)
        raise
    finally:
        store.release()
