"""The platform an operator command runs against."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from tenancy.runtime import Platform
from tenancy.settings import Settings


@asynccontextmanager
async def operator_platform(settings: Settings | None = None) -> AsyncIterator[Platform]:
    """A started platform for one command; closed when it ends.

    In embedded mode the data directory is locked for the command, loaded
    before it and saved when it ends (also when it fails), so a later server
    start sees what the command did.

    Raises:
        AppError(LOCKED) when a server or another command holds the directory.
    """
    settings = settings or Settings()
    platform = Platform.build(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(platform.close)
        if settings.persists_embedded:
            from tenancy.embedded import embedded_session

            holder = "tenantctl " + " ".join(sys.argv[1:3])
            await stack.enter_async_context(
                embedded_session(settings.embedded_dir, platform.clients, holder)
            )
        await platform.start()
        yield platform
