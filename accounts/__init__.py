"""Accounts (issue 11): signup, email verification, password reset, sessions, team.

Beside ``domain`` with its import rules: imports ``tenancy`` and ``domain``
(the account emails go through the tenant's notification outbox), never
``migrations``, ``notifications``, ``graphql_api`` or ``scripts``.
"""
