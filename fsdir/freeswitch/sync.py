"""Tells FreeSWITCH about committed directory changes: user cache flushes, gateway reloads.

A change listener only queues commands, so an API reply never waits for FreeSWITCH. A
background task sends them in order; what FreeSWITCH did not take (it is down, it did not
answer) stays queued and goes out first on the next connection. The queue is bounded: past
`max_pending` commands it is replaced by one full cache flush and a rescan of each profile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from fsdir.background import stop_task
from fsdir.directory.changes import ChangeNotice
from fsdir.freeswitch.esl import EslError

log = logging.getLogger("fsdir.freeswitch.sync")

Api = Callable[[str], Awaitable[str]]
FLUSH_ALL = "xml_flush_cache"


def _addressable(*names: str) -> bool:
    # FreeSWITCH splits its command line on spaces: such names can't be named in a command.
    return all(name and not any(ch.isspace() for ch in name) for name in names)


class FreeSwitchSync:
    def __init__(
        self,
        profiles: Iterable[str],
        *,
        full_flush_at: int = 300,
        max_pending: int = 2000,
        retry_delay: float = 1.0,
    ) -> None:
        self._profiles = [p for p in profiles if _addressable(p)]
        self._full_flush_at = full_flush_at
        self._max_pending = max_pending
        self._retry_delay = retry_delay
        # Command → the sequence number of its latest request. Re-requesting moves it to the
        # end; it leaves only if no new request came while it was being sent.
        self._pending: dict[str, int] = {}
        self._seq = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    def commands_for(self, changes: ChangeNotice) -> list[str]:
        """The commands that make FreeSWITCH see `changes`, in the order to send them."""
        named = sorted((user, domain) for user, domain in changes.users if _addressable(user, domain))
        if len(named) > self._full_flush_at:
            commands = [FLUSH_ALL]
        else:
            commands = [f"xml_flush_cache id {user} {domain}" for user, domain in named]
        gateways = sorted(name for name in changes.gateways if _addressable(name))
        if gateways:
            # rescan only adds gateways it does not have: a changed one must be killed first.
            for profile in self._profiles:
                commands += [f"sofia profile {profile} killgw {name}" for name in gateways]
                commands.append(f"sofia profile {profile} rescan")
        return commands

    def notice(self, changes: ChangeNotice) -> None:
        """The change listener: queue the commands and return at once."""
        commands = self.commands_for(changes)
        if not commands:
            return
        if len(self._pending) + len(commands) > self._max_pending:
            log.warning("more than %d commands for FreeSWITCH waiting: one full reload instead", self._max_pending)
            self._pending.clear()
            commands = [FLUSH_ALL, *(f"sofia profile {profile} rescan" for profile in self._profiles)]
        for command in commands:
            self._seq += 1
            self._pending.pop(command, None)
            self._pending[command] = self._seq
        self._wake.set()

    async def send_pending(self, api: Api) -> bool:
        """Send what is queued, in order; False if FreeSWITCH stopped taking commands."""
        async with self._lock:
            while self._pending:
                command, seq = next(iter(self._pending.items()))
                try:
                    reply = await api(command)
                except EslError as exc:
                    log.warning("FreeSWITCH did not take %r (%s): kept for later", command, exc)
                    return False
                if self._pending.get(command) == seq:
                    del self._pending[command]
                # `-ERR no such gateway.` is normal for a gateway FreeSWITCH has not loaded yet.
                log.info("FreeSWITCH %r: %s", command, reply.strip().rpartition("\n")[2])
            return True

    def start(self, connected: Callable[[], bool], api: Api) -> None:
        """Send in the background whenever `connected()`; a new connection also calls `send_pending`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(connected, api), name="fsdir-freeswitch-sync")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self, connected: Callable[[], bool], api: Api) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if connected() and await self.send_pending(api):
                continue
            if self._pending:
                # Down, or not answering: try again later (a new connection also sends them).
                await asyncio.sleep(self._retry_delay)
                self._wake.set()
