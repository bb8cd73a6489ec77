"""The committed schema.graphql is the public contract: it must match the code."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl
from graphql import lexicographic_sort_schema, print_schema
from graphql.type import GraphQLSchema

from graphql_api.schema import schema

SDL_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_is_current():
    committed = SDL_FILE.read_text()
    generated = schema.as_str()
    assert committed.strip() == generated.strip(), (
        "schema.graphql is stale: run `make schema` and commit it"
    )


def _shape(s: GraphQLSchema) -> dict[str, object]:
    shape: dict[str, object] = {
        "query": s.query_type.name if s.query_type else None,
        "mutation": s.mutation_type.name if s.mutation_type else None,
        "subscription": s.subscription_type.name if s.subscription_type else None,
    }
    for name, graphql_type in s.type_map.items():
        if name.startswith("__"):
            continue
        fields = getattr(graphql_type, "fields", None)
        values = getattr(graphql_type, "values", None)
        shape[name] = sorted(fields) if fields is not None else sorted(values or [])
    return shape


def test_sdl_file_parses_to_the_served_schema():
    from_file = parse_sdl(SDL_FILE.read_text())
    served = schema._schema
    assert _shape(from_file) == _shape(served)
    # Same types, fields, arguments, defaults and descriptions, whatever the order.
    assert print_schema(lexicographic_sort_schema(from_file)) == print_schema(
        lexicographic_sort_schema(served)
    )
