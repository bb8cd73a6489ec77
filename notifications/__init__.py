"""Delivery of the tenants' notification outboxes: relay, SMTP and SMS, templates.

Beside ``domain`` and with its import rules (it may import ``tenancy`` and
``domain``, never ``migrations``, ``graphql_api`` or ``scripts``). The
outbox itself (documents, staging, the relay's queries) is tenant data and
lives in ``domain.outbox`` / ``domain.outbox_queue``; this package sends it:

- :mod:`notifications.relay`: claims tenants with due messages from the
  platform record and their due messages (leases), sends, retries with
  backoff, marks ``sent`` or ``dead``;
- :mod:`notifications.worker`: runs relays in the server (lifespan) or in
  ``tenantctl worker``, with graceful shutdown;
- :mod:`notifications.delivery`: one message -> rendered -> its channel;
- :mod:`notifications.smtp` (aiosmtplib, pooled), :mod:`notifications.sms`;
- :mod:`notifications.templates`, :mod:`notifications.branding`,
  :mod:`notifications.formatting`: Jinja2 templates (Turkish, English) with
  the tenant's branding as data.
"""
