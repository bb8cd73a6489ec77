"""Helpers shared by resolvers."""

from __future__ import annotations

from strawberry.types import Info

from tenancy.errors import validation_error


def page_size(info: Info, first: int | None) -> int:
    """``first`` checked against the configured maximum page size.

    Raises:
        AppError(VALIDATION_FAILED) on field ``first``.
    """
    settings = info.context.runtime.settings
    if first is None:
        return settings.default_page_size
    if not 1 <= first <= settings.max_page_size:
        raise validation_error("first", f"first must be between 1 and {settings.max_page_size}")
    return first
