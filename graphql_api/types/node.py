"""The Relay ``Node`` interface (issue 12, item 9).

Every object a client may cache by id implements it. Its ``id`` is the id the
API has always returned (a MongoDB ObjectId as 24 hex characters), unchanged:
ObjectIds are unique across collections and databases, so that id already
names one object globally, and ``node(id:)`` (``graphql_api.resolvers.node``)
finds it again. Clients keep passing the same ids to every other field.
"""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object with a globally unique id: node(id:) fetches it again (Relay)."
)
class Node:
    id: strawberry.ID
