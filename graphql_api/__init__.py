"""The GraphQL API server: HTTP, context, schema, types and resolvers (no business rules)."""
