"""Background tasks that stop cleanly."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has finished (a no-op for None)."""
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
