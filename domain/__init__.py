"""Tenant business logic: customers, catalog, bookings and their rules, on one tenant database.

Every function and service here receives the tenant's database handle from
its caller (the GraphQL context, an operator command, an importer or a
migration) and never chooses a database itself. Typed document models
(``domain.documents``) give the shape of every document written to a
tenant collection; the API, the legacy importers and the migrations all
write through them.
"""
