"""What an audit-log entry says about a change: the changed fields, before and after.

``field_changes`` compares two flat views of a record (dotted paths) and
keeps the fields that differ, as ``{field: {"before": old, "after": new}}``,
with secrets redacted: a field whose name mentions a password, secret, token,
private or API key is logged as ``"[redacted]"`` on both sides (that it
changed is kept, never its value). ``PlatformStore.append_audit(...,
changes=...)`` stores the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
_SECRET = re.compile(r"password|secret|token|private_key|api_key|signing", re.IGNORECASE)


def is_secret(field: str) -> bool:
    """True for a field whose value never reaches the audit log."""
    return bool(_SECRET.search(field))


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and other values kept whole)."""
    flat: dict[str, Any] = {}
    for name, value in record.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """The fields that differ between two records, with before/after values (secrets redacted).

    Args:
        before / after: the record before and after the change (nested or dotted).
        ignore: dotted fields to leave out (timestamps, versions).
    """
    old, new = flatten(before), flatten(after)
    changes: dict[str, dict[str, Any]] = {}
    for field in sorted(set(old) | set(new)):
        if field in ignore or field.split(".")[0] in ignore:
            continue
        if old.get(field) == new.get(field):
            continue
        if is_secret(field):
            changes[field] = {"before": REDACTED, "after": REDACTED}
        else:
            changes[field] = {"before": old.get(field), "after": new.get(field)}
    return changes
