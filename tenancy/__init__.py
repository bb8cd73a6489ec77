"""Tenancy: the platform registry, database routing and provisioning.

Nothing in this package knows about GraphQL; the operator tools use it
without the web server.
"""
