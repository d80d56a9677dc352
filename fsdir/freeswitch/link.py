"""The runtime's FreeSWITCH: one Event Socket connection feeding the live state, and carrying
the commands that tell FreeSWITCH about directory changes.

On every connection: subscribe, rebuild the live state from `show registrations` and `show
channels` (events arriving meanwhile wait, then apply on top), send the commands queued while
FreeSWITCH was away. When the connection ends, the live state is cleared: nothing live is
known without FreeSWITCH.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsdir.freeswitch.esl import EslClient, EslConnection
from fsdir.freeswitch.esl_frames import Event
from fsdir.freeswitch.live_events import (
    CHANNELS_COMMAND,
    LIVE_EVENTS,
    REGISTRATIONS_COMMAND,
    MalformedEvent,
    apply_event,
    load_bootstrap,
)
from fsdir.freeswitch.live_push import LivePublisher
from fsdir.freeswitch.sync import FreeSwitchSync

if TYPE_CHECKING:
    from fsdir.runtime import Runtime

log = logging.getLogger("fsdir.freeswitch.link")


@dataclass(frozen=True)
class Backoff:
    minimum: float = 0.5
    maximum: float = 30.0


# Delays between reconnection attempts (tests shorten them).
BACKOFF = Backoff()


class FreeSwitchLink:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._publisher = LivePublisher(runtime)
        self.sync = FreeSwitchSync(settings.sofia_gateway_profiles)
        self._current: EslClient | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._connection = EslConnection(
            settings.esl_host,
            settings.esl_port,
            settings.esl_password,
            events=LIVE_EVENTS,
            event_format="json",
            on_connect=self._on_connect,
            on_event=self._on_event,
            backoff_min=BACKOFF.minimum,
            backoff_max=BACKOFF.maximum,
            connect_timeout=settings.esl_command_timeout,
            command_timeout=settings.esl_command_timeout,
        )

    # -- what the runtime and the API use -----------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection.connected

    @property
    def version(self) -> str | None:
        return self._connection.version

    @property
    def last_event_at(self) -> float | None:
        return self._connection.last_event_at

    async def api(self, cmd: str) -> str:
        return await self._connection.api(cmd)

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self._connection.wait_connected(timeout)

    def start(self) -> None:
        """Become `runtime.freeswitch`, follow directory changes, connect in the background."""
        self._runtime.freeswitch = self
        self._runtime.change_listeners.append(self.sync.notice)
        self._publisher.start()
        self.sync.start(lambda: self.connected, self.api)
        self._connection.start()

    async def close(self) -> None:
        with suppress(ValueError):
            self._runtime.change_listeners.remove(self.sync.notice)
        await self._connection.close()
        for watcher in list(self._watchers):
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await self.sync.close()
        await self._publisher.close()
        if self._runtime.freeswitch is self:
            self._runtime.freeswitch = None

    # -- the connection's hooks ---------------------------------------------------------

    async def _on_connect(self, client: EslClient) -> None:
        registrations = await client.api(REGISTRATIONS_COMMAND)
        channels = await client.api(CHANNELS_COMMAND)
        # No await between the reset and the rebuild: nobody sees a half-built state.
        load_bootstrap(self._runtime.live, registrations, channels)
        self._current = client
        watcher = asyncio.create_task(self._watch(client), name="fsdir-freeswitch-watch")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        self._publisher.wake()
        await self.sync.send_pending(client.api)

    async def _on_event(self, event: Event) -> None:
        client = self._current
        if client is None or client.closed:
            return  # left over from a lost connection: the state was cleared with it
        try:
            apply_event(self._runtime.live, event)
        except MalformedEvent as exc:
            log.warning("FreeSWITCH event %s skipped: %s", event.subclass or event.name, exc)
            return
        self._publisher.wake()

    async def _watch(self, client: EslClient) -> None:
        await client.wait_closed()
        if self._current is client:
            self._current = None
            self._runtime.live.reset()
            self._publisher.wake()
