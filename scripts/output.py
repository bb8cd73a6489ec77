"""How operator commands report: rich tables and progress for people, ``--json`` for machines.

Every operator report (:class:`tenancy.reports.Report`: copy, export,
import, tenant operations, migrations, legacy import) is printed by
:func:`print_report`, the one printer: ``to_dict()`` as JSON on stdout, or
its ``tables()`` on stdout and ``footnotes()`` on stderr. Failures before a
report are printed by :func:`print_error` in the same ``{code, message}``
shape as a report's errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable

from tenancy.reports import Report, ReportError, Table

console = Console(stderr=True)
# Reports piped to a file or another program keep whole cells instead of wrapping at 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 200)


def print_json(data: Any) -> None:
    """Machine-readable report on stdout (datetimes and ids as strings)."""
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_error(error: ReportError, as_json: bool = False) -> None:
    """A failure as one line ``CODE: message`` on stderr, or with ``as_json`` as
    ``{"error": {"code": ..., "message": ...}}`` on stdout."""
    error = ReportError(error.code, " ".join(error.message.splitlines()))
    if as_json:
        print_json({"error": error.to_dict()})
    else:
        console.print(
            f"[bold red]{error.code}[/]: {escape(error.message)}", soft_wrap=True, highlight=False
        )


def print_notice(message: str) -> None:
    """Something a running command wants the operator to know now (stderr)."""
    console.print(f"[yellow]{escape(message)}[/]", soft_wrap=True, highlight=False)


def print_table(table: Table) -> None:
    """One table on stdout (``None`` cells print empty)."""
    rendered = RichTable(title=table.title, title_justify="left")
    for column in table.columns:
        rendered.add_column(column)
    for row in table.rows:
        rendered.add_row(*("" if cell is None else str(cell) for cell in row))
    stdout.print(rendered)


def print_report(report: Report, as_json: bool) -> None:
    """Print any operator report: ``report.to_dict()`` as JSON with ``as_json``;
    otherwise its tables on stdout, then its notes (warnings...) on stderr."""
    if as_json:
        print_json(report.to_dict())
        return
    for table in report.tables():
        print_table(table)
    for note in report.footnotes():
        label, sep, rest = note.partition(": ")
        if sep and label in ("warning", "orphans"):
            console.print(f"[yellow]{label}[/]: {escape(rest)}", soft_wrap=True, highlight=False)
        else:
            console.print(escape(note), soft_wrap=True, highlight=False)


def print_records(table: Table, data: Any, as_json: bool) -> None:
    """Records that are not a report (tenants, a new user): ``data`` as JSON
    with ``as_json``, else ``table``."""
    if as_json:
        print_json(data)
    else:
        print_table(table)


class ProgressReporter:
    """``on_progress(name, done, total)`` callback that drives one rich bar per name."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(task, completed=done, total=total)


@contextmanager
def progress(enabled: bool = True) -> Iterator[ProgressReporter]:
    """Progress bars on stderr (off for ``--json`` or when stderr is not a terminal)."""
    if not enabled or not console.is_terminal:
        yield ProgressReporter(None)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        yield ProgressReporter(bar)
