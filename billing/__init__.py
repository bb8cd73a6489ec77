"""Billing with Stripe (issue 10): platform data beside ``domain``.

Plans map to Stripe prices; tenant admins subscribe through Stripe Checkout
and change their subscription through the billing portal or ``changePlan``;
Stripe's webhooks land in the platform ``stripe_events`` inbox and move the
tenant through trial, active, past due (grace), suspended and cancelled.

Import rules (``tests/test_architecture.py``): ``billing`` may import
``tenancy`` and ``domain``; never ``graphql_api``, ``scripts``,
``migrations`` or ``notifications``. Only :mod:`billing.stripe_gateway`
imports the ``stripe`` library: every other module sees plain dictionaries.
"""
