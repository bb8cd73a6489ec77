"""What every ``tenantctl`` command shares: running against a started
platform, turning failures into one coded line, and ending with a report.

Exit codes: 0 done, 1 failed (the report says what was and was not done),
2 refused before doing anything (a missing confirmation), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import click
import typer
from rich.traceback import Traceback

from scripts.output import ProgressReporter, console, print_error, print_report, progress
from scripts.runtime import as_app_error, operator_runtime
from tenancy.errors import AppError, ErrorCode
from tenancy.reports import Report, ReportError
from tenancy.request_context import new_request_id, request_id_scope
from tenancy.runtime import Runtime

T = TypeVar("T")


def operator_actor() -> str:
    """``operator:<os user>``: who operator commands act as (audit log, migration ledger)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        user = "unknown"
    return f"operator:{user}"


#: Who operator commands act as (audit log, migration ledger): ``operator:<os user>``.
ACTOR = operator_actor()

JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")
BatchOption = typer.Option(1000, min=1, max=100_000, help="Documents per batch (bounds memory).")
DrainOption = typer.Option(
    None,
    help="Wait after entering maintenance (default: the tenant cache TTL when other "
    "servers are running, else none).",
)

#: Options given before the command name (set by the app's callback on every invocation).
global_options = {"debug": False}


def fail(error: BaseException, as_json: bool, exit_code: int = 1) -> NoReturn:
    """Report ``error`` as one coded line (a JSON error object with ``as_json``)
    and exit; ``--debug`` adds the traceback on stderr."""
    app_error = as_app_error(error)
    if global_options["debug"] and error.__traceback__ is not None:
        console.print(Traceback.from_exception(type(error), error, error.__traceback__))
    print_error(ReportError(app_error.code, app_error.message), as_json)
    raise typer.Exit(exit_code)


def refuse(message: str, as_json: bool) -> NoReturn:
    """A command refused before doing anything (missing confirmation): exit code 2."""
    fail(AppError(ErrorCode.VALIDATION_FAILED, message), as_json, exit_code=2)


def run(action: Callable[[Runtime], Awaitable[T]], as_json: bool = False) -> T:
    """Run ``action`` with a started platform. Any failure (settings, MongoDB,
    files, refusals) is printed by :func:`fail` and exits with code 1."""

    async def main() -> T:
        # One id per command, in its audit-log entries (like a request's).
        with request_id_scope(f"cli-{new_request_id()}"):
            async with operator_runtime() as runtime:
                return await action(runtime)

    try:
        return asyncio.run(main())
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        console.print("interrupted; the command did not finish (run it again to resume)")
        raise typer.Exit(130) from None
    except Exception as error:
        fail(error, as_json)


def run_with_progress(
    action: Callable[[Runtime, ProgressReporter], Awaitable[T]], as_json: bool
) -> T:
    """``run`` with rich progress bars (none for ``--json``) passed to ``action``."""
    with progress(not as_json) as bar:
        return run(lambda runtime: action(runtime, bar), as_json)


def finish(report: Report, as_json: bool) -> NoReturn:
    """Print ``report`` (:func:`scripts.output.print_report`) and exit: 0 when
    it is ok, 1 when not."""
    print_report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)
