"""Embedded mode: the platform on a local SecantusDB server, used like any MongoDB.

When ``APP_MONGODB_URL`` is empty, the server and every ``tenantctl``
command enter :func:`embedded_database`: it starts (or joins) the local
server of ``APP_EMBEDDED_DIR`` (``tenancy.local_server``), gives the default
cluster its URL, and leaves the server again at the end (the last process
to leave stops it). From then on the product talks to it exactly as to
MongoDB: one driver path.

Upgrading: before 2026-12 the embedded mode kept an in-process mock's data
as snapshots in this directory (``CURRENT`` naming ``snapshots/<id>/``, one
dump per database). Such a directory is imported once into the new server
(:func:`import_old_snapshot`), then left untouched with a message saying so.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from tenancy.clients import ClientRegistry
from tenancy.databases.dump_format import MANIFEST_NAME
from tenancy.databases.specs import non_empty_collections
from tenancy.dump import import_database
from tenancy.errors import AppError, ErrorCode
from tenancy.local_server import LocalServer
from tenancy.naming import validate_database_name
from tenancy.settings import DEFAULT_CLUSTER

log = logging.getLogger(__name__)
OLD_POINTER = "CURRENT"
IMPORTED_MARKER = "IMPORTED-INTO-SECANTUSDB"


@asynccontextmanager
async def embedded_database(directory: Path, clients: ClientRegistry) -> AsyncIterator[str]:
    """Use the local SecantusDB server of ``directory`` for the default cluster.

    Yields the server's URL. An old snapshot directory is imported first
    (once). On exit this process leaves the server; the last one stops it.

    Raises:
        AppError(DATABASE_UNAVAILABLE) when the server does not start;
        AppError(LOCKED) when another process blocks its start for too long.
    """
    server = LocalServer(directory)
    url = await asyncio.to_thread(server.acquire)
    try:
        clients.set_url(DEFAULT_CLUSTER, url)
        upgrade = await import_old_snapshot(directory, clients)
        if upgrade is not None:
            print(upgrade.message(), file=sys.stderr)
        yield url
    finally:
        await clients.close()
        await asyncio.to_thread(server.release)


@dataclass
class SnapshotUpgrade:
    """What :func:`import_old_snapshot` did with an old snapshot directory."""

    snapshot: Path
    imported: list[str] = field(default_factory=list)  # "cluster/database"
    skipped: list[str] = field(default_factory=list)  # with the reason

    def message(self) -> str:
        done = ", ".join(self.imported) or "nothing"
        text = (
            f"embedded data: imported the old snapshot {self.snapshot} ({done}) into the "
            f"SecantusDB server; the old files are left untouched and may be deleted"
        )
        if self.skipped:
            text += f"; skipped: {'; '.join(self.skipped)}"
        return text


async def import_old_snapshot(directory: Path, clients: ClientRegistry) -> SnapshotUpgrade | None:
    """Import the snapshot an older version left in ``directory``, once.

    Each database of the snapshot is imported (checked against its manifest
    first) into the cluster of the same name when that cluster is configured
    and the database is empty there; otherwise it is skipped with a reason.
    A marker file then records that the upgrade happened. Several processes
    may call this at once: a file lock lets one do it.

    Returns:
        What was done, or ``None`` when there is nothing to upgrade.
    Raises:
        AppError(MANIFEST_INVALID / VERIFICATION_FAILED): a database of the
        snapshot does not check out or did not import; no marker is written,
        so the next start tries again (what was imported stays).
    """
    pointer = directory / OLD_POINTER
    if not pointer.is_file() or (directory / IMPORTED_MARKER).exists():
        return None
    lock = FileLock(str(directory / "upgrade.lock"), thread_local=False)
    await asyncio.to_thread(lock.acquire)
    try:
        if (directory / IMPORTED_MARKER).exists():
            return None
        snapshot = directory / "snapshots" / pointer.read_text().strip()
        if not snapshot.is_dir():
            raise AppError(
                ErrorCode.MANIFEST_INVALID,
                f"{pointer} names the snapshot {snapshot.name!r}, which is missing; move "
                f"{pointer} aside to start without the old data",
            )
        upgrade = SnapshotUpgrade(snapshot)
        for cluster_dir in sorted(p for p in snapshot.iterdir() if p.is_dir()):
            for db_dir in sorted(p for p in cluster_dir.iterdir() if (p / MANIFEST_NAME).exists()):
                await _import_one(clients, cluster_dir.name, db_dir, upgrade)
        (directory / IMPORTED_MARKER).write_text(upgrade.message() + "\n")
        return upgrade
    finally:
        lock.release()


async def _import_one(
    clients: ClientRegistry, cluster: str, db_dir: Path, upgrade: SnapshotUpgrade
) -> None:
    label = f"{cluster}/{db_dir.name}"
    if cluster not in clients.cluster_names:
        upgrade.skipped.append(f"{label} (cluster {cluster!r} is not configured)")
        return
    db = clients.client(cluster)[validate_database_name(db_dir.name)]
    if await non_empty_collections(db):
        upgrade.skipped.append(f"{label} (the server already holds data there)")
        return
    result = await import_database(db_dir, db, overwrite=True)
    if not result.ok:
        raise AppError(
            ErrorCode.VERIFICATION_FAILED,
            f"the old snapshot database {db_dir} did not import ({result.failure_summary()}); "
            "it was left as it is",
        )
    upgrade.imported.append(label)
