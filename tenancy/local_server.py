"""The embedded default: a local SecantusDB server that keeps ``APP_EMBEDDED_DIR``.

With no ``APP_MONGODB_URL``, the server and every ``tenantctl`` command talk
to a SecantusDB server (a MongoDB wire-protocol server on WiredTiger, from
PyPI) through the same PyMongo driver path as production. SecantusDB is
GPL-2.0: it always runs as a separate child process (``python -m
secantus``) and is never imported by this product.

Layout of the directory::

    db/            the server's WiredTiger files (``--storage-path``)
    server.json    pid, port and URL of the running server
    server.log     the server's own log
    users/<pid>.*  one file per process (or object) using the server
    server.lock    serialises starting and stopping (an OS file lock)

The first process that needs the server starts it (loopback only, a free
port, ``--sync-on-commit`` so that an acknowledged write survives a crash
of the server); later processes find it through ``server.json``. Each
process registers itself under ``users/``; the last one to leave stops the
server (SIGTERM, then SIGKILL after a grace period). A process that died
without leaving is noticed by its pid and dropped from the list, and a
server left behind by a killed process is found and reused by the next one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import RawDocument

SECANTUS_VERSION = "0.7.0b3"  # pinned in pyproject.toml; tested with this version
REPLICA_SET = "secantus"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
LOCK_TIMEOUT_SECONDS = 60.0
_LISTENING = re.compile(rb"secantus listening on 127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class ServerInfo:
    """What ``server.json`` records about a running server."""

    pid: int
    port: int
    url: str
    started_at: float  # seconds since the epoch

    @classmethod
    def read(cls, path: Path) -> ServerInfo | None:
        """The recorded server, or ``None`` when the file is missing or unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(int(data["pid"]), int(data["port"]), str(data["url"]), data["started_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Write atomically (temporary file, then rename)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path)


def server_url(port: int) -> str:
    """The MongoDB URL of a local SecantusDB server (a single-node replica set).

    ``retryWrites=false``: SecantusDB 0.7.0b3 keeps every retryable write's
    reply for 30 minutes and, past 10,000 of them, sorts them all on every
    write, so inserts slow from about 1 ms to 6-7 ms after 10,000 writes
    (measured here). Over loopback a retry is of little use; without it the
    server keeps no such records.
    """
    return f"mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}&retryWrites=false"


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (POSIX ``kill(pid, 0)``)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers(url: str, timeout_seconds: float = 2.0) -> bool:
    """True when a MongoDB server at ``url`` answers ``ping`` within the timeout."""
    timeout_ms = int(timeout_seconds * 1000)
    client: MongoClient[RawDocument] = MongoClient(
        url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class LocalServer:
    """Starts, shares and stops the SecantusDB server of one directory.

    Args:
        directory: the embedded data directory (created when missing).
        sync_on_commit: fsync the log on every commit (the default; tests of
            throw-away data may turn it off for speed).
        startup_timeout: seconds to wait for a new server to answer.
        extra_args: further ``secantus`` command-line options.

    Use :meth:`acquire` (returns the URL) and :meth:`release`, or the
    context manager ``with LocalServer(dir) as url:``. Both are blocking
    calls (a process start takes about a second); async code runs them in a
    thread.
    """

    def __init__(
        self,
        directory: Path,
        *,
        sync_on_commit: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory.absolute()
        self.sync_on_commit = sync_on_commit
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self._lock = FileLock(str(self.directory / "server.lock"), thread_local=False)
        # One entry per user object (a process may hold several): "<pid>.<token>".
        self._user = self.directory / "users" / f"{os.getpid()}.{secrets.token_hex(4)}"
        self.url: str | None = None

    @property
    def info_path(self) -> Path:
        return self.directory / "server.json"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def __enter__(self) -> str:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> str:
        """Use the directory's server, starting it if none runs; returns its URL.

        Raises:
            AppError(DATABASE_UNAVAILABLE): the server did not start (the
            message quotes the end of ``server.log``).
            AppError(LOCKED): another process holds the start-up lock too long.
        """
        try:
            (self.directory / "users").mkdir(parents=True, exist_ok=True)
            (self.directory / "db").mkdir(exist_ok=True)
        except OSError as exc:
            raise AppError(
                ErrorCode.DATABASE_UNAVAILABLE,
                f"the embedded database directory {self.directory} is not usable "
                f"({exc.strerror or exc}: {exc.filename}); fix it or set APP_EMBEDDED_DIR",
            ) from None
        with self._locked():
            info = ServerInfo.read(self.info_path)
            if info is None or not pid_alive(info.pid) or not answers(info.url):
                if info is not None and pid_alive(info.pid):
                    self._stop(info)  # alive but not answering: a hung server
                info = self._start()
            self._user.write_text(json.dumps({"pid": os.getpid(), "argv": sys.argv[:3]}))
            self.url = info.url
            return info.url

    def release(self) -> None:
        """Leave the server; stop it when no other live process uses it. Idempotent."""
        if self.url is None:
            return
        self.url = None
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                self._user.unlink()
            if self.live_users():
                return
            info = ServerInfo.read(self.info_path)
            if info is not None:
                self._stop(info)

    def live_users(self) -> list[int]:
        """Pids of live registered users, one per entry (entries of dead pids are removed)."""
        live = []
        for entry in (self.directory / "users").glob("*"):
            head = entry.name.split(".", 1)[0]
            pid = int(head) if head.isdigit() else -1
            if pid_alive(pid):
                live.append(pid)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        return sorted(live)

    @contextlib.contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        try:
            with self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
                yield
        except Timeout:
            raise AppError(
                ErrorCode.LOCKED,
                f"another process has been starting or stopping the embedded database in "
                f"{self.directory} for {LOCK_TIMEOUT_SECONDS:.0f} s; check {self.log_path}",
            ) from None

    def _start(self) -> ServerInfo:
        if not secantus_installed():
            raise AppError(
                ErrorCode.DATABASE_UNAVAILABLE,
                "no APP_MONGODB_URL is set and the embedded database (SecantusDB) is not "
                "installed: set APP_MONGODB_URL to a MongoDB server, or install it with "
                "pip install 'tenant-graphql[embedded]' (make serve does)",
            )
        db_dir = self.directory / "db"
        command = [
            sys.executable,
            "-m",
            "secantus",
            "--storage-path",
            str(db_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--log-level",
            "INFO",
        ]
        if self.sync_on_commit:
            command.append("--sync-on-commit")
        command.extend(self.extra_args)
        with open(self.log_path, "ab") as log:
            offset = log.tell()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # Ctrl-C in the terminal does not reach it
            )
        port = self._wait_for_port(process, offset)
        info = ServerInfo(pid=process.pid, port=port, url=server_url(port), started_at=time.time())
        deadline = time.monotonic() + self.startup_timeout
        while not answers(info.url, 1.0):
            if process.poll() is not None or time.monotonic() > deadline:
                self._stop(info)
                raise self._start_failure("did not answer")
        info.write(self.info_path)
        return info

    def _wait_for_port(self, process: subprocess.Popen[bytes], offset: int) -> int:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                match = _LISTENING.search(log.read())
            if match:
                return int(match.group(1))
            if process.poll() is not None:
                raise self._start_failure(f"exited with status {process.returncode}")
            time.sleep(0.05)
        process.kill()
        raise self._start_failure(f"did not listen within {self.startup_timeout:.0f} s")

    def _start_failure(self, what: str) -> AppError:
        try:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        detail = " | ".join(tail) or "no log output"
        return AppError(
            ErrorCode.DATABASE_UNAVAILABLE,
            f"the embedded database (SecantusDB) for {self.directory} {what}: {detail}; "
            f"see {self.log_path}",
        )

    def _stop(self, info: ServerInfo) -> None:
        """SIGTERM the server, SIGKILL it after the grace period; forget ``server.json``."""
        if pid_alive(info.pid) and _is_secantus(info.pid):
            os.kill(info.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while pid_alive(info.pid) and time.monotonic() < deadline:
                _reap(info.pid)
                time.sleep(0.05)
            if pid_alive(info.pid):
                os.kill(info.pid, signal.SIGKILL)
                _reap(info.pid)
        with contextlib.suppress(FileNotFoundError):
            self.info_path.unlink()


def _reap(pid: int) -> None:
    """Collect the exit status of our own child (else it lingers as a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def secantus_installed() -> bool:
    """True when the ``secantus`` module can be run (the ``embedded`` extra of
    pyproject.toml; the production image leaves it out and needs APP_MONGODB_URL)."""
    return importlib.util.find_spec("secantus") is not None


def _is_secantus(pid: int) -> bool:
    """True when ``pid`` runs SecantusDB (guards against a recycled pid); Linux reads /proc."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc (macOS): trust server.json
    try:
        return b"secantus" in cmdline.read_bytes()
    except OSError:
        return False
