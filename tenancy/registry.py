"""Tenant registry: tenant lookup by slug or host, with a short in-process cache.

The cache holds each record for ``ttl`` seconds (``cachetools.TTLCache``,
bounded, so a flood of made-up slugs cannot grow it without end). Changes
made through the product (``tenancy.lifecycle``) invalidate it at once in this
process; other processes see the change when their entry expires.
"""

from __future__ import annotations

from cachetools import TTLCache

from tenancy.errors import AppError
from tenancy.hostnames import host_from_header, to_ascii_hostname
from tenancy.models import Tenant
from tenancy.naming import RESERVED_SLUGS, validate_slug
from tenancy.platform import PlatformStore

CACHE_SIZE = 10_000
_MISSING = object()


def _is_slug(text: str) -> bool:
    try:
        validate_slug(text)
    except AppError:
        return False
    return True


class TenantRegistry:
    """Cached tenant lookups.

    Args:
        store: the platform store.
        base_domain: hosts ``<slug>.<base_domain>`` resolve to ``slug``.
        ttl: cache lifetime in seconds (0 disables the cache).
    """

    def __init__(self, store: PlatformStore, base_domain: str, ttl: float) -> None:
        self.store = store
        self.base_domain = to_ascii_hostname(base_domain) or base_domain.lower().strip(".")
        self.ttl = ttl
        self._by_slug: TTLCache[str, Tenant | None] = TTLCache(CACHE_SIZE, ttl or 1)
        self._host_slug: TTLCache[str, str | None] = TTLCache(CACHE_SIZE, ttl or 1)

    async def by_slug(self, slug: str) -> Tenant | None:
        """The tenant with this slug, or ``None``.

        Text that is no valid slug is answered without a database query;
        unknown valid slugs are cached as misses too.
        """
        hit = self._by_slug.get(slug, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        if not _is_slug(slug):
            return None
        tenant = await self.store.tenant_by_slug(slug)
        if self.ttl:
            self._by_slug[slug] = tenant
        return tenant

    def slug_from_subdomain(self, host: str) -> str | None:
        """``west-nipt.example.com`` -> ``west-nipt`` when the base domain is ``example.com``.

        Reserved labels (``api``, ``www``, ``app``...) are the platform's own hosts, not tenants.
        """
        suffix = "." + self.base_domain
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            if label and "." not in label and label not in RESERVED_SLUGS:
                return label
        return None

    async def slug_for_host(self, host: str) -> str | None:
        """Slug named by a Host header: subdomain or custom domain.

        The header is reduced to its ASCII (punycode) hostname first
        (``tenancy.hostnames``), the form custom domains are stored in.
        """
        host = host_from_header(host)  # type: ignore[assignment]
        if not host or host == self.base_domain:
            return None
        slug = self.slug_from_subdomain(host)
        if slug:
            return slug
        hit = self._host_slug.get(host, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        slug = await self.store.slug_for_domain(host)
        if self.ttl:
            self._host_slug[host] = slug
        return slug

    def invalidate(self, slug: str | None = None) -> None:
        """Forget cached records (one slug and every host miss, or everything)."""
        if slug is None:
            self._by_slug.clear()
            self._host_slug.clear()
            return
        self._by_slug.pop(slug, None)
        for host, cached in list(self._host_slug.items()):
            if cached in (slug, None):
                self._host_slug.pop(host, None)
