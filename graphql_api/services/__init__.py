"""Tenant-data services. Each receives the tenant's database handle from the context."""
