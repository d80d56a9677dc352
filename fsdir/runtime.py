"""The running server's shared parts, and what happens after every committed write."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from fsdir.api.hub import Hub
from fsdir.api.registry import EventSpec
from fsdir.config import Settings
from fsdir.directory.changes import ChangeNotice
from fsdir.freeswitch.live import LiveState

log = logging.getLogger("fsdir")

ChangeListener = Callable[[ChangeNotice], Awaitable[None] | None]


class Runtime:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.hub = Hub()
        self.live = LiveState()
        # Run in order after each commit, before the reply leaves: the document cache first.
        self.change_listeners: list[ChangeListener] = []
        # Set when an Event Socket connection is configured.
        self.freeswitch: Any = None

    async def notify_change(self, changes: ChangeNotice) -> None:
        for listener in self.change_listeners:
            try:
                result = listener(changes)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("change listener failed")

    async def after_commit(self, changes: ChangeNotice, spec: EventSpec, reply: dict[str, Any], origin: object) -> None:
        if changes:
            await self.notify_change(changes)
        if spec.writes and spec.topic is not None:
            self.hub.publish([spec.topic, spec.name], reply, exclude=origin)
