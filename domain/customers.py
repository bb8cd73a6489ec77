"""Customers of one tenant: create, update, soft delete, get, page.

Email is unique per tenant, case-insensitively, through the unique
``email_key`` index; soft delete removes ``email_key`` so the address can
be used again. The plan's ``max_customers`` is enforced by an atomic
counter reservation (``tenancy.quota``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.collections import CUSTOMERS
from domain.documents import CustomerDocument
from domain.ids import parse_id
from tenancy import quota
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import Tenant, utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page
from tenancy.platform import email_key
from tenancy.validation import check_email

COUNTER = "customers"
MAX_TAGS = 20


MAX_SEARCH_LENGTH = 100  # characters; the regex stays far below any server's pattern cap


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class CustomerSort(StrEnum):
    CREATED_AT_DESC = "created_desc"
    CREATED_AT_ASC = "created_asc"
    NAME_ASC = "name_asc"


SORTS: dict[CustomerSort, list[tuple[str, int]]] = {
    CustomerSort.CREATED_AT_DESC: [("created_at", DESCENDING), ("_id", DESCENDING)],
    CustomerSort.CREATED_AT_ASC: [("created_at", ASCENDING), ("_id", ASCENDING)],
    CustomerSort.NAME_ASC: [("name_key", ASCENDING), ("_id", ASCENDING)],
}


@dataclass
class CustomerFields:
    """Writable customer fields; ``None`` means "not given"."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    status: CustomerStatus | None = None


@dataclass
class CustomerFilter:
    search: str | None = None
    status: CustomerStatus | None = None
    tag: str | None = None


def _check_email(email: str) -> str:
    """``check_email`` with the error on ``["input", "email"]``, like the other fields."""
    try:
        return check_email(email, "email")
    except AppError as exc:
        raise validation_error(["input", "email"], exc.message) from None


def _clean(fields: CustomerFields, *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fields.name is not None or creating:
        name = (fields.name or "").strip()
        if not 1 <= len(name) <= 200:
            raise validation_error(["input", "name"], "name is required (1-200 characters)")
        out["name"] = name
        out["name_key"] = name.casefold()
    if fields.email is not None:
        email = _check_email(fields.email) if fields.email.strip() else None
        out["email"] = email
        out["email_key"] = email_key(email) if email else None
    if fields.phone is not None:
        out["phone"] = fields.phone.strip() or None
    if fields.company is not None:
        out["company"] = fields.company.strip() or None
    if fields.notes is not None:
        out["notes"] = fields.notes
    if fields.tags is not None:
        tags = sorted({t.strip().lower() for t in fields.tags if t.strip()})
        if len(tags) > MAX_TAGS:
            raise validation_error(["input", "tags"], f"at most {MAX_TAGS} tags")
        out["tags"] = tags
    if fields.status is not None:
        if fields.status == CustomerStatus.DELETED:
            raise validation_error(["input", "status"], "use deleteCustomer to delete")
        out["status"] = str(fields.status)
    return out


def _duplicate_email(email: str | None) -> AppError:
    return AppError(
        ErrorCode.ALREADY_EXISTS,
        f"a customer with email {email} already exists in this tenant",
        ["input", "email"],
    )


class CustomerService:
    """Customer operations on one tenant database.

    Args:
        db: the tenant's database handle (from the request context).
        tenant: the tenant record (for its plan limits).
    """

    def __init__(self, db: Database, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant
        self.collection = db[CUSTOMERS]

    async def get(self, customer_id: str) -> dict[str, Any] | None:
        """A live (not deleted) customer, or ``None``."""
        return await self.collection.find_one(
            {"_id": parse_id(customer_id), "status": {"$ne": CustomerStatus.DELETED.value}}
        )

    async def find_by_email(self, email: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"email_key": email_key(email)})

    async def create(self, fields: CustomerFields) -> dict[str, Any]:
        """Insert a customer.

        Raises:
            AppError: VALIDATION_FAILED, ALREADY_EXISTS (email), PLAN_LIMIT_EXCEEDED.
        """
        doc = _clean(fields, creating=True)
        limit = self.tenant.limits.max_customers
        if not await quota.reserve(self.db, COUNTER, limit):
            raise AppError(
                ErrorCode.PLAN_LIMIT_EXCEEDED,
                f"the {self.tenant.subscription.plan_key} plan allows {limit} customers; "
                "upgrade the plan or delete customers first",
            )
        fields_set = {k: v for k, v in doc.items() if k not in ("name_key", "email_key")}
        doc = CustomerDocument(**fields_set).to_mongo()
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            await quota.release(self.db, COUNTER)
            raise _duplicate_email(doc.get("email")) from None
        except BaseException:
            await quota.release(self.db, COUNTER)
            raise
        return doc

    async def update(self, customer_id: str, fields: CustomerFields) -> dict[str, Any]:
        """Change a live customer.

        Raises:
            AppError: NOT_FOUND, VALIDATION_FAILED, ALREADY_EXISTS (email).
        """
        changes = _clean(fields, creating=False)
        update: dict[str, Any] = {"$set": {**changes, "updated_at": utcnow()}}
        if "email_key" in changes and changes["email_key"] is None:
            del update["$set"]["email_key"]
            update["$unset"] = {"email_key": ""}
        try:
            doc = await self.collection.find_one_and_update(
                {"_id": parse_id(customer_id), "status": {"$ne": CustomerStatus.DELETED.value}},
                update,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise _duplicate_email(changes.get("email")) from None
        if doc is None:
            raise not_found("customer", customer_id)
        return doc

    async def delete(self, customer_id: str) -> dict[str, Any]:
        """Soft delete: status ``deleted``, email freed, bookings kept.

        Raises:
            AppError(NOT_FOUND) for an unknown or already deleted customer.
        """
        now = utcnow()
        doc = await self.collection.find_one_and_update(
            {"_id": parse_id(customer_id), "status": {"$ne": CustomerStatus.DELETED.value}},
            {
                "$set": {
                    "status": CustomerStatus.DELETED.value,
                    "deleted_at": now,
                    "updated_at": now,
                },
                "$unset": {"email_key": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise not_found("customer", customer_id)
        await quota.release(self.db, COUNTER)
        return doc

    async def page(
        self, flt: CustomerFilter, sort: CustomerSort, first: int, after: str | None
    ) -> Page:
        """A page of live customers matching the filter."""
        query: dict[str, Any] = {"status": {"$ne": CustomerStatus.DELETED.value}}
        if flt.status:
            if flt.status == CustomerStatus.DELETED:
                raise validation_error(["filter", "status"], "deleted customers are not listed")
            query["status"] = str(flt.status)
        if flt.tag:
            query["tags"] = flt.tag.strip().lower()
        if flt.search and flt.search.strip():
            search = flt.search.strip()
            if len(search) > MAX_SEARCH_LENGTH:
                raise validation_error(
                    ["filter", "search"], f"search is at most {MAX_SEARCH_LENGTH} characters"
                )
            pattern = {"$regex": re.escape(search), "$options": "i"}
            query["$or"] = [{"name": pattern}, {"email": pattern}]
        return await fetch_page(
            self.collection, query, sort_name=str(sort), sort=SORTS[sort], first=first, after=after
        )

    async def count(self) -> int:
        """Live customers (what the plan limit counts)."""
        return await quota.usage(self.db, COUNTER)
