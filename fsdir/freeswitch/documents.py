"""Lookup → the document FreeSWITCH needs: from the cache, or read and rendered within the timeout."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fsdir.db.schema import domains, users
from fsdir.directory import tree
from fsdir.directory.loader import load_domain_header, load_domains
from fsdir.freeswitch import render, slices
from fsdir.freeswitch.doc_cache import GLOBAL_SLOT, Document, DocumentCache, Key, domain_slot
from fsdir.freeswitch.lookup import Kind, Lookup

log = logging.getLogger("fsdir.xmlcurl")
NOT_FOUND = Document(render.NOT_FOUND, False)
# Kinds answered without reading anything (and without the cache).
UNANSWERABLE = frozenset({Kind.OTHER, Kind.INVALID})
# Domain headers (and shared document heads) kept; beyond, the memo starts over.
_HEADERS_MAX = 10_000
# Where a user answer stops being the same for every user of the domain (render's layout).
_GROUPS = b"\n      <groups>"
# A read that outlives its request's timeout goes on (and fills the cache) up to this long.
LOAD_LIMIT = 60.0
# Whole-domain and whole-directory answers for more users than this are not built: about 3 MB
# of XML, three times FreeSWITCH's default response-max-bytes (it would refuse the answer and use
# its own files, as after not-found), and the rendering would hold hundreds of MB meanwhile.
WHOLE_MAX_USERS = 10_000


class DirectoryDocuments:
    """Answers lookups; a miss costs a fixed number of statements, bounded by ``timeout`` seconds."""

    def __init__(
        self, engine: AsyncEngine, cache: DocumentCache, *, a1_hash: bool, all_users_group: str, timeout: float
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.timeout = timeout
        self._a1_hash = a1_hash
        self._all_users_group = all_users_group
        # Reads under way, with the generation they started at: a lookup of the same key joins
        # one started at the current generation rather than reading again.
        self._loading: dict[Key, tuple[int, asyncio.Future[Document]]] = {}
        # Each domain's params and variables, with the generation they were read at: a user miss
        # then reads only the user (two statements instead of five).
        self._headers: dict[str, tuple[int, tree.Domain | None]] = {}
        # The domain part of user answers, one copy shared by all the cached users of a domain.
        self._heads: dict[bytes, bytes] = {}

    def cached(self, lookup: Lookup) -> Document | None:
        """The answer if it needs no database: a cache hit, or a request that can't be answered."""
        if lookup.kind in UNANSWERABLE:
            return NOT_FOUND
        return self.cache.get(_key(lookup))

    async def load(self, lookup: Lookup) -> Document:
        """Read and render (raises TimeoutError past the timeout, or the database's error).

        The read runs as a task of its own, waited for up to the timeout only. Past it, the read
        goes on and fills the cache (a heavy document then answers the next request), and the
        answer never waits for a driver to let go of a cancelled statement.
        """
        key = _key(lookup)
        whole = lookup.kind is Kind.DIRECTORY or (lookup.kind is Kind.GATEWAYS and not lookup.domain)
        slot = GLOBAL_SLOT if whole else domain_slot(lookup.domain)
        # Taken before reading: a write committed while we read bumps it, and the result is dropped
        # (nor does a lookup after the write join this read).
        generation = self.cache.generations[slot]
        running = self._loading.get(key)
        if running is not None and running[0] == generation:
            task = running[1]
        else:
            task = asyncio.ensure_future(self._load(lookup, key, slot, generation))
            self._loading[key] = (generation, task)
            task.add_done_callback(partial(self._loaded, key))
        done, _ = await asyncio.wait((task,), timeout=self.timeout)
        if not done:
            raise TimeoutError
        return task.result()

    async def close(self) -> None:
        """Stop the reads still under way (at shutdown)."""
        tasks = [task for _, task in self._loading.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _loaded(self, key: Key, task: asyncio.Future[Document]) -> None:
        running = self._loading.get(key)
        if running is not None and running[1] is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()  # retrieved: the requests that waited for it may all have timed out

    async def _load(self, lookup: Lookup, key: Key, slot: int, generation: int) -> Document:
        async with asyncio.timeout(LOAD_LIMIT), self.engine.connect() as conn:
            document = await self._read(conn, lookup)
        self.cache.put(key, slot, generation, document)
        return document

    async def _read(self, conn: AsyncConnection, lookup: Lookup) -> Document:
        kind, domain, name = lookup
        a1_hash, group_name = self._a1_hash, self._all_users_group
        if kind is Kind.USER:
            header = await self._header(conn, domain)
            if header is None:
                return NOT_FOUND
            # FreeSWITCH's key=id matches id or number-alias (find_user_in_tag), so both keys do.
            user = await slices.load_user_alone(conn, domain, name)
            body = render.render_user_document(header, user, a1_hash=a1_hash, all_users_group=group_name)
            return self._shared_head(body, user is not None)
        if kind is Kind.GROUP and name != group_name.lower():
            group = await slices.load_group(conn, domain, name)
            if group is None:
                return NOT_FOUND
            body = render.render_domain_document(group[0], a1_hash=a1_hash, all_users_group=group_name)
            return Document(body, group[1])
        if kind in (Kind.DOMAIN, Kind.GROUP):
            if await _too_many_users(conn, domain):
                return NOT_FOUND
            trees = await load_domains(conn, names=[domain])
            if not trees:
                return NOT_FOUND
            return Document(render.render_domain_document(trees[0], a1_hash=a1_hash, all_users_group=group_name), True)
        if kind is Kind.DIRECTORY:
            if await _too_many_users(conn, None):
                return NOT_FOUND
            return _document(
                render.render_directory_document(await load_domains(conn), a1_hash=a1_hash, all_users_group=group_name)
            )
        if kind is Kind.GATEWAYS:
            owners = await slices.load_gateway_owners(conn, domain or None)
            return _document(render.render_gateways_document(owners, all_users_group=group_name))
        # Kind.NETWORK_LIST
        tree = await slices.load_network_list(conn, domain)
        if tree is None:
            return NOT_FOUND
        return Document(render.render_network_list_document(tree, all_users_group=group_name), True)

    async def _header(self, conn: AsyncConnection, domain: str) -> tree.Domain | None:
        """The domain's params and variables (None for an unknown or disabled domain), read once
        per write to its slot. Never changed once made: renders only read it."""
        slot = domain_slot(domain)
        generation = self.cache.generations[slot]
        memo = self._headers.get(domain)
        if memo is not None and memo[0] == generation:
            return memo[1]
        header = await load_domain_header(conn, domain)
        if self.cache.generations[slot] == generation:
            if len(self._headers) >= _HEADERS_MAX:
                self._headers.clear()
            self._headers[domain] = (generation, header)
        return header

    def _shared_head(self, body: bytes, found: bool) -> Document:
        """The document split where the user starts, its first part shared with the domain's
        other users (about half of a typical user answer: 100,000 users then fit in half the memory)."""
        cut = body.find(_GROUPS)
        if cut < 0:
            return Document(body, found)
        head = body[:cut]
        shared = self._heads.get(head)
        if shared is None:
            if len(self._heads) >= _HEADERS_MAX:
                self._heads.clear()
            shared = self._heads[head] = head
        return Document(body[cut:], found, shared)


async def _too_many_users(conn: AsyncConnection, domain: str | None) -> bool:
    """Whether a whole-domain (or, without a domain, whole-directory) answer is too big to build."""
    query = select(func.count()).select_from(users.join(domains, domains.c.id == users.c.domain_id))
    query = query.where(users.c.enabled.is_(True), domains.c.enabled.is_(True))
    if domain is not None:
        query = query.where(func.lower(domains.c.name) == domain)
    count = (await conn.execute(query)).scalar_one()
    if count <= WHOLE_MAX_USERS:
        return False
    log.warning("xml_curl: not building a whole %s of %d users", "domain" if domain else "directory", count)
    return True


def _key(lookup: Lookup) -> Key:
    kind, domain, name = lookup
    return int(kind), domain, name


def _document(body: bytes) -> Document:
    return NOT_FOUND if body == render.NOT_FOUND else Document(body, True)
