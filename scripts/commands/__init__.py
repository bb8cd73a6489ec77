"""The commands of ``tenantctl`` (:mod:`scripts.cli`), one module per group:
``tenants``, ``platform``, ``migrate``, ``databases`` (export, import, copy),
``legacy`` (import-legacy); ``common`` holds what they share."""
