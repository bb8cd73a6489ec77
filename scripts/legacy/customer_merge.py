"""CRM customers whose emails differ only by letter case: one customer per address, the
others merged into it, never dropped.

A tenant's customers have a unique, case-insensitive email index
(``email_key`` = the address stripped and lower-cased, ``tenancy.platform.email_key``),
so ``Ayse@X.com`` and ``ayse@x.com`` cannot be two customers. The rule, which
does not depend on the order of the source:

1. If the tenant already has a customer holding the address (made in the
   product, or by an earlier run), that customer is the target and keeps its
   own fields; the legacy records are added to it.
2. Otherwise the oldest legacy record is the target: earliest ``created_at``
   (else ``customerSince``), records without a date last, ties by the lowest
   ``_id``. Its document is the customer; the others are merged into it.

What a merged record leaves on the target document (fields in the document
only; the GraphQL API shows ``notes``, ``tags``, ``phone`` and ``company``):

- ``legacy_merged``: the merged record in full (legacy fields in snake_case,
  ``source_id`` = its legacy ``_id``, ``legacy_id``);
- ``alternate_emails``: its email spelling when it differs from the target's;
- on a target made by this import only: ``tags`` the union of all records'
  tags, ``phone`` / ``company`` from the first merged record that has one when
  the target has none, and a line in ``notes`` naming the merged records.

The additions are ``$addToSet`` of values derived only from the source, so a
re-run adds nothing. The groups are planned (two reads of the source: the
email keys and dates of all records, then the full records of the members of
groups) and written before the customers are streamed, so each record's
fate is known when it is counted: the target's record ``written`` /
``updated`` / ``already_present``, every other one ``merged`` (listed in the
report's ``merges``), or all of them skipped with the write's error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.collections import CUSTOMERS
from scripts.legacy.convert import ConversionError, oldest_first, snake_fields, text_or_none
from scripts.legacy.report import Merge
from scripts.legacy.sources import Source
from scripts.legacy.writes import (
    ERROR_PREFIX,
    Mapped,
    Skip,
    source_id,
    write_error_reason,
    write_one,
)
from tenancy.mongo_types import Database

LOOKUP_CHUNK = 500  # email keys per owner lookup query
OLDEST_RULE = "the oldest record (created_at, then lowest _id) is kept, the others merged into it"
EXISTING_RULE = "the tenant already has a customer with this email; merged into it"
EARLIER_RULE = (
    "the customer an earlier import made from {kept} already holds this email; "
    "the others merged into it"
)

BuildCustomer = Callable[[dict[str, Any]], dict[str, Any]]
"""``customer_from_legacy``: a legacy record -> customer document (raises Skip/ConversionError)."""


def rule_order(doc: dict[str, Any]) -> tuple[int, datetime, str]:
    """Sort key of the rule: dated records first, earliest ``created_at`` (else
    ``customerSince``) first, then the lowest ``_id`` (as a string)."""
    return oldest_first(doc, ("created_at", "customerSince"))


def merged_record(doc: dict[str, Any]) -> dict[str, Any]:
    """A legacy record as kept in the target's ``legacy_merged``: every field, in
    snake_case, dates as UTC, with ``source_id`` (its ``_id``) and ``legacy_id``."""
    return {
        "source_id": doc["_id"],
        "legacy_id": text_or_none(doc.get("id")),
        **snake_fields(doc, set()),
    }


def merge_note(customers: list[dict[str, Any]]) -> str:
    """The ``notes`` line of a target made from a group: who was merged into it."""
    parts = [
        f'{c.get("legacy_id") or c["_id"]} "{c["name"]}" <{c.get("email")}>' for c in customers
    ]
    return "Merged at the legacy import (same email, letter case aside): " + "; ".join(parts) + "."


@dataclass
class EmailGroup:
    """Legacy records sharing one ``email_key`` (or one record whose address an existing
    customer holds), and the write that folds them into their target.

    Attributes:
        email_key: the shared address, lower-cased.
        members: ``str(_id)`` of the legacy records, in the rule's order.
        target: ``_id`` of the target customer.
        kept: the member the target is (``None``: a customer that is not from this source).
        existing: the target existed before this run.
        write: the write (built by :meth:`CustomerMerges.prepare`).
        outcome: :func:`write_one`'s result once applied.
    """

    email_key: str
    members: list[str]
    target: Any = None
    kept: str | None = None
    existing: bool = False
    write: Mapped | None = None
    outcome: str | None = None

    def fate(self, member: str) -> tuple[str | None, str | None]:
        """``(outcome to count, None)`` or ``(None, skip reason)`` for one member."""
        assert self.write is not None and self.outcome is not None
        if self.outcome.startswith(ERROR_PREFIX):
            return None, write_error_reason(self.write, self.outcome)
        return (self.outcome if member == self.kept else "merged"), None

    def merge(self) -> Merge:
        """The report's listing of this group."""
        if self.kept is None:
            rule = EXISTING_RULE
        elif self.kept == self.members[0]:
            rule = OLDEST_RULE
        else:
            rule = EARLIER_RULE.format(kept=self.kept)
        return Merge(
            target=str(self.target),
            kept=self.kept,
            merged=tuple(m for m in self.members if m != self.kept),
            reason=f"same email, letter case aside ({self.email_key}); {rule}",
        )


@dataclass
class CustomerMerges:
    """The email groups of one CRM customers collection and their writes.

    Args:
        db: the tenant database.
        target: report label (the tenant slug).
        build: :data:`BuildCustomer`.
        marker: ``legacy_source`` of the imported customers.
        check_fields: fields the validation compares on a target made by this import.
    """

    db: Database
    target: str
    build: BuildCustomer
    marker: str
    check_fields: tuple[str, ...]
    groups: dict[str, EmailGroup] = field(default_factory=dict)
    by_member: dict[str, EmailGroup] = field(default_factory=dict)

    def group_of(self, member: str) -> EmailGroup | None:
        """The group of the record ``str(_id)``, if it is in one."""
        return self.by_member.get(member)

    def merges(self) -> list[Merge]:
        """One listing per group whose write succeeded, in email order."""
        return [
            g.merge()
            for _, g in sorted(self.groups.items())
            if g.outcome is not None and not g.outcome.startswith(ERROR_PREFIX)
        ]

    async def prepare(self, source: Source, collection: str) -> None:
        """Plan the groups of ``collection`` and apply their writes (before the stream).

        Records that cannot be mapped, or have no valid email, are in no group
        (the stream reports them as before).
        """
        keys: dict[str, list[tuple[tuple[int, datetime, str], str]]] = defaultdict(list)
        async for doc in source.iterate(collection, on_error=lambda rid, msg: None):
            key = self._email_key(doc)
            if key is not None:
                keys[key].append((rule_order(doc), source_id(doc)))
        owners = await self._owners(sorted(keys))
        for key, entries in keys.items():
            members = [sid for _, sid in sorted(entries)]
            owner = owners.get(key)
            if len(members) > 1 or (owner is not None and str(owner["_id"]) != members[0]):
                group = EmailGroup(key, members)
                self.groups[key] = group
                for member in members:
                    self.by_member[member] = group
        if not self.groups:
            return
        docs: dict[str, dict[str, Any]] = {}
        async for doc in source.iterate(collection, on_error=lambda rid, msg: None):
            if source_id(doc) in self.by_member:
                docs[source_id(doc)] = doc
        for key, group in self.groups.items():
            self._plan(group, [docs[m] for m in group.members], owners.get(key))
            assert group.write is not None
            group.outcome = await write_one(group.write)

    def _email_key(self, doc: dict[str, Any]) -> str | None:
        if doc.get("_id") is None:
            return None
        try:
            customer = self.build(doc)
        except (Skip, ConversionError):
            return None
        return customer.get("email_key")

    async def _owners(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Existing customers holding any of ``keys``: ``{email_key: {_id, email}}``."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            cursor = self.db[CUSTOMERS].find(
                {"email_key": {"$in": chunk}}, {"email_key": 1, "email": 1}
            )
            async for doc in cursor:
                found[doc["email_key"]] = doc
        return found

    def _plan(
        self, group: EmailGroup, docs: list[dict[str, Any]], owner: dict[str, Any] | None
    ) -> None:
        customers = [self.build(doc) for doc in docs]
        group.existing = owner is not None
        # The target: the oldest record, unless another customer already holds the email
        # (made in the product, or from another record by an earlier import).
        foreign = owner is not None and str(owner["_id"]) != group.members[0]
        if owner is not None and foreign:
            group.target = owner["_id"]
            target_email = owner.get("email")
            group.kept = str(owner["_id"]) if str(owner["_id"]) in group.members else None
        else:
            group.target, group.kept = customers[0]["_id"], group.members[0]
            target_email = customers[0].get("email")
        others = [(d, c) for d, c in zip(docs, customers, strict=True) if c["_id"] != group.target]
        records = [merged_record(d) for d, _ in others]
        alternates: list[str] = []
        for _, customer in others:
            email = customer.get("email")
            if email and email != target_email and email not in alternates:
                alternates.append(email)
        add: dict[str, Any] = {"legacy_merged": {"$each": records}}
        if alternates:
            add["alternate_emails"] = {"$each": alternates}
        if foreign:
            group.write = Mapped(
                db=self.db,
                target=self.target,
                collection=CUSTOMERS,
                key={"_id": group.target},
                update={"$addToSet": add},
                check={"email_key": group.email_key},
                # Only a target from this source counts in the validation's marker count.
                marker=self.marker if group.kept is not None else None,
                upsert=False,
            )
            return
        base = dict(customers[0])
        base["tags"] = sorted({t for c in customers for t in c.get("tags") or []})
        for name in ("phone", "company"):
            if base.get(name) is None:
                base[name] = next((c[name] for _, c in others if c.get(name)), None)
        note = merge_note([c for _, c in others])
        base["notes"] = f"{base['notes']}\n{note}" if base.get("notes") else note
        check = {name: base.get(name) for name in self.check_fields}
        check["alternate_emails"] = alternates or None
        group.write = Mapped(
            db=self.db,
            target=self.target,
            collection=CUSTOMERS,
            key={"_id": group.target},
            update={"$setOnInsert": base, "$addToSet": add},
            check=check,
            marker=self.marker,
        )


__all__ = ["CustomerMerges", "EmailGroup", "merge_note", "merged_record", "rule_order"]
