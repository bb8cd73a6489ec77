"""The platform an operator command runs against, and how its failures read.

Every failure of a command becomes an ``AppError`` (:func:`as_app_error`):
a stable code and one line a person can act on, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError
from pymongo.errors import ConfigurationError, ConnectionFailure, PyMongoError

from migrations.runtime import build_runtime
from tenancy.clients import ClientRegistry
from tenancy.embedded import embedded_database
from tenancy.errors import AppError, ErrorCode, from_database_error
from tenancy.runtime import Runtime
from tenancy.settings import Settings

_ENV_PREFIX = "APP_"


def load_settings() -> Settings:
    """``Settings()`` from the environment and ``.env``.

    Raises:
        AppError(VALIDATION_FAILED) naming each bad variable (``APP_...``) and why.
    """
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise as_app_error(exc) from exc


@asynccontextmanager
async def operator_runtime(settings: Settings | None = None) -> AsyncIterator[Runtime]:
    """A started platform for one command; closed when it ends.

    MongoDB clients give up looking for a reachable server after
    ``cli_server_selection_timeout_seconds`` (``DATABASE_UNAVAILABLE``).
    In embedded mode the command uses (starting it if need be) the local
    SecantusDB server of ``APP_EMBEDDED_DIR``, also while a server runs on it.

    Raises:
        AppError(VALIDATION_FAILED) for bad settings; AppError(DATABASE_UNAVAILABLE)
        when the embedded server does not start.
    """
    settings = settings or load_settings()
    timeout_ms = round(settings.cli_server_selection_timeout_seconds * 1000)
    clients = ClientRegistry(settings.cluster_urls(), {"serverSelectionTimeoutMS": timeout_ms})
    runtime = build_runtime(settings, clients)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(runtime.close)
        if settings.is_embedded:
            await stack.enter_async_context(
                embedded_database(settings.embedded_dir, runtime.clients)
            )
        await runtime.start()
        yield runtime


def _env_name(field: object) -> str:
    return f"{_ENV_PREFIX}{str(field).upper()}"


def _settings_problem(exc: SettingsError) -> str:
    """``error parsing value for field "cors_origins" ...`` -> what to fix."""
    found = re.search(r'field "([^"]+)"', str(exc))
    variable = _env_name(found[1]) if found else "a setting"
    cause = f" ({exc.__cause__})" if exc.__cause__ else ""
    return (
        f"setting {variable} cannot be read{cause}; lists and objects are JSON, "
        "e.g. APP_CORS_ORIGINS='[\"https://app.example.com\"]'"
    )


def _validation_problem(exc: ValidationError) -> str:
    """Each error of a pydantic model; ``Settings`` fields named by their variable."""
    is_settings = exc.title == Settings.__name__
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(part) for part in error["loc"])
        if not loc:
            parts.append(message)
        elif is_settings:
            parts.append(f"{_env_name(error['loc'][0])}: {message} (got {error.get('input')!r})")
        else:
            parts.append(f"{loc}: {message}")
    return ("invalid settings: " if is_settings else "") + "; ".join(parts)


def _mongo_problem(exc: PyMongoError) -> str:
    """The driver's message without its topology dump."""
    text = str(exc).split(", Timeout:", 1)[0]
    text = re.sub(r"\s*\(configured timeouts:[^)]*\)", "", text)
    return " ".join(text.split())[:500]


def describe_os_error(exc: OSError) -> str:
    """``<path>: <reason>`` of a file system error (``Permission denied``...)."""
    if exc.filename is None:
        return str(exc)
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileExistsError) and not Path(exc.filename).is_dir():
        reason = "a file is in the way, not a directory"  # mkdir(exist_ok=True) over a file
    return f"{exc.filename}: {reason}"


def as_app_error(exc: BaseException) -> AppError:
    """The one-line, coded form of any failure of an operator command.

    - ``AppError``: itself;
    - bad settings (pydantic-settings) and refused input (pydantic): VALIDATION_FAILED;
    - MongoDB not reachable: DATABASE_UNAVAILABLE; a malformed MongoDB URL:
      VALIDATION_FAILED; other MongoDB errors: DATABASE_UNAVAILABLE;
    - a missing file or directory: NOT_FOUND; other file system errors
      (permissions, not a directory, disk full): VALIDATION_FAILED, since the
      path is the operator's input (commands that write exports or backups
      report BACKUP_FAILED themselves);
    - anything else: INTERNAL_ERROR (``--debug`` shows the traceback).
    """
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, SettingsError):
        return AppError(ErrorCode.VALIDATION_FAILED, _settings_problem(exc))
    if isinstance(exc, ValidationError):
        return AppError(ErrorCode.VALIDATION_FAILED, _validation_problem(exc))
    if isinstance(exc, ConfigurationError):
        return AppError(
            ErrorCode.VALIDATION_FAILED,
            f"MongoDB client configuration refused ({_mongo_problem(exc)}); "
            "check APP_MONGODB_URL and APP_EXTRA_CLUSTERS",
        )
    if isinstance(exc, ConnectionFailure):
        return AppError(
            ErrorCode.DATABASE_UNAVAILABLE,
            f"MongoDB did not answer ({_mongo_problem(exc)}); check APP_MONGODB_URL and that "
            "the server runs (APP_CLI_SERVER_SELECTION_TIMEOUT_SECONDS sets how long to wait)",
        )
    if (coded := from_database_error(exc)) is not None:
        return coded
    if isinstance(exc, PyMongoError):
        return AppError(
            ErrorCode.DATABASE_UNAVAILABLE,
            f"MongoDB refused the operation ({type(exc).__name__}: {_mongo_problem(exc)})",
        )
    if isinstance(exc, OSError):
        missing = isinstance(exc, FileNotFoundError)
        return AppError(
            ErrorCode.NOT_FOUND if missing else ErrorCode.VALIDATION_FAILED,
            f"{describe_os_error(exc)} (check the path and its permissions)",
        )
    return AppError(
        ErrorCode.INTERNAL_ERROR,
        f"unexpected {type(exc).__name__}: {exc}; run again with --debug for the traceback",
    )
