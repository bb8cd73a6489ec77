"""How operator commands report: rich tables and progress for people, ``--json`` for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
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
from rich.table import Table

console = Console(stderr=True)
# Reports piped to a file or another program keep whole cells instead of wrapping at 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 200)


def print_json(data: Any) -> None:
    """Machine-readable report on stdout (datetimes and ids as strings)."""
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_error(code: str, message: str, as_json: bool = False) -> None:
    """A failure as one line ``CODE: message`` on stderr, or with ``as_json`` as
    ``{"error": {"code": ..., "message": ...}}`` on stdout."""
    message = " ".join(message.splitlines())
    if as_json:
        print_json({"error": {"code": str(code), "message": message}})
    else:
        console.print(f"[bold red]{code}[/]: {escape(message)}", soft_wrap=True, highlight=False)


def print_notice(message: str) -> None:
    """Something a running command wants the operator to know now (stderr)."""
    console.print(f"[yellow]{escape(message)}[/]", soft_wrap=True, highlight=False)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A report table on stdout."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    stdout.print(table)


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
