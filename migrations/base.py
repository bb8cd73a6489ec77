"""What a migration is: an id, a description, a scope, ``up`` and maybe ``down``.

A migration changes one database: the platform database (scope
``platform``) or one tenant database (scope ``tenant``). Its ``up`` and
``down`` receive that database's ``AsyncDatabase`` handle and nothing else.

Rules for authors (MongoDB has no multi-document transactions on the
in-process mock, and we do not rely on them on a server either):

- ``up`` must be idempotent: a run can stop half-way (crash, lost
  connection) and is then simply run again. Prefer conditional updates
  (``{"field": None}`` filters), ``create_index`` (idempotent) and upserts.
- ``down`` is optional. Leave it ``None`` when undoing would destroy data;
  the runner then refuses to roll back past this migration.
- Once a migration has been applied anywhere, do not edit it: write a new
  one. Editing changes its checksum, and the runner reports the drift
  instead of silently running the new code.

Checksum: SHA-256 over the *normalized* source of ``up`` and ``down``
(``inspect.getsource``, then Python tokens with comments, blank lines and
intra-line spacing dropped, and indentation reduced to INDENT/DEDENT
markers). Reformatting or commenting does not change it; changing code,
string literals or docstrings does. Only the bodies of ``up``/``down`` are
covered: a helper they call (``ensure_tenant_schema``, say) can change
without changing the checksum.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import re
import textwrap
import tokenize
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Database

MigrationFn = Callable[[Database], Awaitable[Any]]
"""``async def up(db: Database) -> None`` (the return value is ignored)."""

ID_PATTERN = re.compile(r"(?P<number>\d{4})_[a-z0-9_]+")  # used with fullmatch
"""Migration ids: four digits, underscore, lowercase words (``0001_initial_schema``)."""

_SKIPPED_TOKENS = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER})


class MigrationScope(StrEnum):
    """Which kind of database a migration applies to."""

    PLATFORM = "platform"
    TENANT = "tenant"


def normalized_source(fn: Callable[..., Any]) -> str:
    """The source of ``fn`` with formatting and comments normalized away.

    Args:
        fn: a function defined in a source file (not a lambda in a REPL).

    Returns:
        One token per space-separated item, one logical line per ``\\n``;
        indentation becomes ``<INDENT>``/``<DEDENT>``.

    Raises:
        AppError(MIGRATION_INVALID) when the source cannot be read or tokenized.
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (OSError, TypeError, tokenize.TokenError, SyntaxError) as exc:
        raise AppError(
            ErrorCode.MIGRATION_INVALID,
            f"cannot read the source of {getattr(fn, '__qualname__', fn)!r} "
            f"for its checksum: {exc}",
        ) from exc
    parts: list[str] = []
    for token in tokens:
        if token.type in _SKIPPED_TOKENS:
            continue
        if token.type == tokenize.NEWLINE:
            parts.append("\n")
        elif token.type == tokenize.INDENT:
            parts.append("<INDENT>")
        elif token.type == tokenize.DEDENT:
            parts.append("<DEDENT>")
        else:
            parts.append(token.string)
    return " ".join(parts)


def compute_checksum(up: MigrationFn, down: MigrationFn | None) -> str:
    """SHA-256 (hex) of the normalized sources of ``up`` and ``down``.

    Returns:
        64 lowercase hex characters.

    Raises:
        AppError(MIGRATION_INVALID) when a source cannot be read.
    """
    digest = hashlib.sha256()
    digest.update(b"up\0")
    digest.update(normalized_source(up).encode())
    digest.update(b"\0down\0")
    digest.update(normalized_source(down).encode() if down is not None else b"<none>")
    return digest.hexdigest()


@dataclass(frozen=True)
class Migration:
    """One versioned change of one database.

    Args:
        id: ``NNNN_words`` (``0002_backfill_customer_name_key``); ordering is by id.
        description: one line an operator reads in ``migrate status``.
        scope: platform or tenant.
        up: ``async def up(db)``; must be idempotent.
        down: ``async def down(db)`` or ``None`` when it cannot be undone safely.

    Attributes:
        checksum: see the module docstring; computed at construction.

    Raises:
        AppError(MIGRATION_INVALID) for a malformed id or an unreadable source.
    """

    id: str
    description: str
    scope: MigrationScope
    up: MigrationFn
    down: MigrationFn | None = None
    checksum: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.id):
            raise AppError(
                ErrorCode.MIGRATION_INVALID,
                f"migration id {self.id!r} must look like 0001_lowercase_words",
            )
        object.__setattr__(self, "scope", MigrationScope(self.scope))
        object.__setattr__(self, "checksum", compute_checksum(self.up, self.down))

    @property
    def number(self) -> int:
        """The numeric prefix of the id (``2`` for ``0002_x``)."""
        return int(self.id[:4])

    @property
    def reversible(self) -> bool:
        """True when the migration has a ``down``."""
        return self.down is not None
