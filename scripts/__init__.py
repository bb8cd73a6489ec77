"""Operator tools: the ``tenantctl`` command line and the legacy importers."""
