"""Pushes changes of the live state to WebSocket subscribers, in the shape of `[Users] Get_users`.

Events can come a thousand a second; pushes are coalesced: the first change goes out at once,
later ones at most every `interval` seconds, each round with the state as it is then and one
query per domain to find the changed users' rows (users and domains the database does not
know are not pushed).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.background import stop_task
from fsdir.db.schema import domains, users
from fsdir.directory.users import users_query
from fsdir.directory.views import domains_map, user_view
from fsdir.freeswitch.live import UserKey, key

if TYPE_CHECKING:
    from fsdir.runtime import Runtime

log = logging.getLogger("fsdir.freeswitch.live")

USERS_TOPIC = "[Users] Get_users"
DOMAINS_TOPIC = "[Domains][Get] Domains"
_CHUNK = 500  # names per IN (...) list


class LivePublisher:
    def __init__(self, runtime: Runtime, *, interval: float = 0.05) -> None:
        self._runtime = runtime
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="fsdir-live-push")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    def wake(self) -> None:
        """Call after changing the live state."""
        if self._runtime.live.changed:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.push()
            except Exception:
                # The state stays readable through the API; only this round of pushes is lost.
                log.exception("pushing live changes failed")
            await asyncio.sleep(self._interval)

    async def push(self) -> None:
        live = self._runtime.live
        changed_users, changed_domains = live.take_changes()
        if not changed_users and not changed_domains:
            return
        async with self._runtime.engine.connect() as conn:
            user_rows = await _user_rows(conn, changed_users)
            domain_rows = await _domain_rows(conn, changed_domains)
        hub = self._runtime.hub
        if user_rows:
            directory_users: dict[str, dict[str, Any]] = defaultdict(dict)
            for row in user_rows:
                directory_users[str(row.domain_id)][str(row.id)] = user_view(row, row.domain_name, live)
            hub.publish([USERS_TOPIC], {"MessageType": USERS_TOPIC, "directory_users": dict(directory_users)})
        if domain_rows:
            view = domains_map(domain_rows, live)
            hub.publish([USERS_TOPIC], {"MessageType": USERS_TOPIC, "domains": view})
            hub.publish([DOMAINS_TOPIC], {"MessageType": DOMAINS_TOPIC, "domains": view})


async def _user_rows(conn: AsyncConnection, wanted: set[UserKey]) -> list[Any]:
    by_domain: dict[str, list[str]] = defaultdict(list)
    for domain, user in wanted:
        by_domain[domain].append(user)
    rows: list[Any] = []
    for domain, names in by_domain.items():
        for start in range(0, len(names), _CHUNK):
            query = users_query().where(
                func.lower(domains.c.name) == domain, func.lower(users.c.name).in_(names[start : start + _CHUNK])
            )
            # SQL lower() and str.lower() may differ beyond ASCII: keep exact matches only.
            rows += [row for row in await conn.execute(query) if (key(row.domain_name), key(row.name)) in wanted]
    return rows


async def _domain_rows(conn: AsyncConnection, wanted: set[str]) -> list[Any]:
    names = sorted(wanted)
    rows: list[Any] = []
    for start in range(0, len(names), _CHUNK):
        query = select(domains).where(func.lower(domains.c.name).in_(names[start : start + _CHUNK]))
        rows += [row for row in await conn.execute(query.order_by(domains.c.id)) if key(row.name) in wanted]
    return rows
