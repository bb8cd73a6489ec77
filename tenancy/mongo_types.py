"""The PyMongo types every package annotates with, declared once.

PyMongo's client, database and collection classes are generic in the
document type they return. Every client here is opened by
:func:`tenancy.clients.open_client` without a ``document_class``, so every
read returns a plain ``dict``; its values are whatever BSON decodes to
(``str``, ``int``, ``datetime``, ``ObjectId``, nested documents...), which
the type system can only call ``Any``. Typed views of these documents are
the pydantic models (``tenancy.models``, ``domain.documents``).

Annotate with these aliases, never with a bare ``AsyncDatabase``:

- :data:`RawDocument`: one document as the server returns it;
- :data:`Database`: a handle on one database (a tenant's, the platform's,
  a copy target...);
- :data:`Collection`: a handle on one collection;
- :data:`Client`: a client of one cluster.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

RawDocument: TypeAlias = dict[str, Any]
Database: TypeAlias = AsyncDatabase[RawDocument]
Collection: TypeAlias = AsyncCollection[RawDocument]
Client: TypeAlias = AsyncMongoClient[RawDocument]
