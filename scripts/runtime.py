"""The platform an operator command runs against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tenancy.runtime import Platform
from tenancy.settings import Settings


@asynccontextmanager
async def operator_platform(settings: Settings | None = None) -> AsyncIterator[Platform]:
    """A started platform for one command; closed (and, embedded, saved) when it ends."""
    settings = settings or Settings()
    platform = Platform.build(settings)
    try:
        await platform.start()
        yield platform
    finally:
        await platform.close()
