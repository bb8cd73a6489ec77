"""Strawberry permission checks built on the role -> permission table."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from tenancy.errors import AppError, ErrorCode


class Needs(BasePermission):
    """Allows the field when the request's principal holds ``permission``.

    Raises AppError(UNAUTHENTICATED) for anonymous callers and
    AppError(FORBIDDEN) for roles without the permission.
    """

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.can(self.permission):
            return True
        if not principal.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, f"log in first: this needs {self.permission}")
        raise AppError(
            ErrorCode.FORBIDDEN, f"role {principal.role} does not have {self.permission}"
        )


def requires(permission: str) -> list[FieldExtension]:
    """Field extensions that enforce one permission (``extensions=requires("x")``)."""
    return [PermissionExtension(permissions=[Needs(permission)], use_directives=False)]
