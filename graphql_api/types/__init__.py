"""Strawberry types of the public schema, one module per domain."""
