"""The vocabulary every operator report shares: copy, export, import, verify,
tenant operations (move, restore, delete...), migrations and the legacy import.

- **Status words** (:class:`Status`), for a whole report, one of its items
  (a collection, a database, a tenant) or one step: ``ok``; ``failed``;
  ``skipped`` (deliberately left alone: a tenant in maintenance, databases
  after an earlier failure, a step made pointless by an earlier one);
  ``planned`` (a dry run: what a real run would do); ``not_run`` (the run
  stopped before it got there; run the command again to resume).
- **Errors** are :class:`ReportError` ``{code, message}``, the code one of
  :class:`tenancy.errors.ErrorCode`, the message for a person. A report's
  ``error`` is its first one (``None`` when nothing failed).
- **Count names** mean the same thing in every report: ``source_count``
  (documents or records in the source), ``target_count`` (in the target
  afterwards), ``written`` (written by this run), ``resumed`` (written by an
  interrupted earlier run, so not again by this one), ``already_present``,
  ``updated``, ``merged`` and ``skipped`` (records not imported, with reasons)
  of the legacy import.
- Every report is a :class:`Report`: ``ok`` (drives the exit code: 0 when
  ok, 1 when not), ``to_dict()`` (the ``--json`` form: ``ok``, ``status``,
  ``error`` and the report's own fields) and ``tables()`` / ``footnotes()``,
  which ``scripts.output.print_report`` renders for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from tenancy.errors import AppError, ErrorCode, from_database_error


class Status(StrEnum):
    """Outcome of a report, an item or a step (see the module docstring)."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    PLANNED = "planned"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class ReportError:
    """A failure inside a report: a stable code and a message a person can act on."""

    code: ErrorCode
    message: str

    def to_dict(self) -> dict[str, str]:
        """``{"code": "...", "message": "..."}``, as the CLI prints any failure."""
        return {"code": str(self.code), "message": self.message}

    @classmethod
    def from_exception(cls, exc: BaseException, default: ErrorCode) -> ReportError:
        """The coded form of ``exc``.

        An ``AppError`` keeps its code and message; a MongoDB or BSON failure
        gets the code :func:`tenancy.errors.from_database_error` gives it
        (the message names the exception: ``AutoReconnect: ...``); anything
        else gets ``default``.
        """
        if isinstance(exc, AppError):
            return cls(exc.code, exc.message)
        coded = from_database_error(exc)
        return cls(coded.code if coded else default, f"{type(exc).__name__}: {exc}")


def error_dict(error: ReportError | None) -> dict[str, str] | None:
    """``error.to_dict()``, or ``None``."""
    return error.to_dict() if error is not None else None


def first_error(errors: Sequence[ReportError | None]) -> ReportError | None:
    """The first error that is not ``None``."""
    return next((e for e in errors if e is not None), None)


@dataclass
class Table:
    """One table of a report as people read it (``scripts.output`` renders it).

    Attributes:
        title: shown above the table; says what ran and how it ended.
        columns: column headings.
        rows: one sequence of cells per row (``None`` prints as empty).
    """

    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)


class Report(Protocol):
    """What every operator report offers (see the module docstring)."""

    @property
    def ok(self) -> bool:
        """True when the command did what it was asked (exit code 0)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with at least ``ok``, ``status`` and ``error``."""
        ...

    def tables(self) -> list[Table]:
        """The report as tables, in print order."""
        ...

    def footnotes(self) -> list[str]:
        """Lines printed after the tables (warnings, skipped records...)."""
        ...


def cell_error(error: ReportError | None) -> str:
    """An error as one table cell: ``CODE: message`` (empty when ``None``)."""
    return f"{error.code}: {error.message}" if error is not None else ""
