"""Document ids as they appear in the API.

Ids created by the product are ObjectIds (24 hex digits); ids imported
from legacy systems may be strings (UUIDs) and are kept as they were.
"""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId


def parse_id(value: str) -> ObjectId | str:
    """The stored ``_id`` for an API id string."""
    if len(value) == 24:
        try:
            return ObjectId(value)
        except InvalidId:
            pass
    return value
