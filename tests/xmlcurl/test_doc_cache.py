"""The document cache: bounded, and never serving what a write has made stale (the cache race)."""

from __future__ import annotations

import asyncio
import gc
import zlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fsdir.bootstrap import open_database
from fsdir.config import Settings
from fsdir.db.engine import WRITE
from fsdir.db.schema import user_params, users
from fsdir.directory.changes import ChangeNotice
from fsdir.directory.importer import import_domains
from fsdir.freeswitch import documents as documents_module
from fsdir.freeswitch.doc_cache import (
    ENTRY_OVERHEAD,
    GLOBAL_SLOT,
    SLOTS,
    Document,
    DocumentCache,
    Generations,
    Key,
    domain_slot,
)
from fsdir.freeswitch.documents import NOT_FOUND, DirectoryDocuments
from fsdir.freeswitch.lookup import Kind, Lookup
from fsdir.freeswitch.parse import parse_domains
from tests.xmlcurl.helpers import RECORDED_DIRECTORY, domain_of, params, users_in


def key_of(name: str) -> Key:
    return (0, "example.com", name)


def doc(size: int) -> Document:
    return Document(b"x" * size, True)


def test_generations_are_per_domain_and_global() -> None:
    generations = Generations()
    a, b = domain_slot("a.example"), domain_slot("b.example")
    assert a != b and 0 <= a < SLOTS
    # The same slot in every process (Python's str hash is seeded per process; crc32 is not).
    assert domain_slot("xmlcurl.test") == zlib.crc32(b"xmlcurl.test") % SLOTS
    generations.bump(["A.Example"])
    assert (generations[a], generations[b], generations[GLOBAL_SLOT]) == (1, 0, 1)
    generations.bump([])
    assert (generations[a], generations[GLOBAL_SLOT]) == (1, 2)


def test_a_bump_makes_entries_stale() -> None:
    cache = DocumentCache(Generations(), 1 << 20)
    slot = domain_slot("a.example")
    cache.put(key_of("user"), slot, 0, doc(10))
    cache.put(key_of("whole"), GLOBAL_SLOT, 0, doc(10))
    cache.put(key_of("other"), domain_slot("b.example"), 0, doc(10))
    assert cache.get(key_of("user")) == doc(10)
    cache.generations.bump(["a.example"])
    assert cache.get(key_of("user")) is None
    assert cache.get(key_of("whole")) is None
    assert cache.get(key_of("other")) == doc(10)
    assert len(cache) == 1 and cache.size == 10 + ENTRY_OVERHEAD


def test_a_document_read_before_a_write_is_not_stored() -> None:
    cache = DocumentCache(Generations(), 1 << 20)
    slot = domain_slot("a.example")
    before = cache.generations[slot]
    cache.generations.bump(["a.example"])  # the write commits while the miss reads
    cache.put(key_of("user"), slot, before, doc(10))
    assert cache.get(key_of("user")) is None and len(cache) == 0


def test_least_recently_used_go_first_beyond_the_bound() -> None:
    cache = DocumentCache(Generations(), 20 * (100 + ENTRY_OVERHEAD))
    for key in "abcdefghijklmnopqrst":
        cache.put(key_of(key), 0, 0, doc(100))
    assert cache.get(key_of("a")) is not None  # a is now the most recent
    cache.put(key_of("u"), 0, 0, doc(100))
    assert cache.get(key_of("b")) is None
    assert cache.get(key_of("a")) is not None and cache.get(key_of("u")) is not None
    assert len(cache) == 20 and cache.size <= cache.max_bytes
    # A document too big for an eighth of the cache is not kept: it would push out everything else.
    cache.put(key_of("huge"), 0, 0, doc(cache.max_bytes // 8))
    assert cache.get(key_of("huge")) is None and len(cache) == 20


def test_cached_entries_are_left_alone_by_the_garbage_collector() -> None:
    cache = DocumentCache(Generations(), 1 << 20)
    cache.put((0, "example.com", "1000"), 7, 0, doc(10))
    gc.collect()
    (key, entry), *_ = cache._entries.items()
    assert not gc.is_tracked(key) and not gc.is_tracked(entry)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(settings)
    async with engine.connect() as conn:
        await conn.execution_options(**WRITE)
        async with conn.begin():
            await import_domains(conn, parse_domains(RECORDED_DIRECTORY.read_text()), ChangeNotice())
    yield engine
    await engine.dispose()


async def set_password(conn: AsyncConnection, value: str) -> None:
    user = select(users.c.id).where(users.c.name == "2000").scalar_subquery()
    await conn.execute(
        update(user_params).where(user_params.c.user_id == user, user_params.c.name == "password").values(value=value)
    )


@pytest.mark.anyio
async def test_a_miss_racing_a_write_never_serves_stale_data_afterwards(engine: AsyncEngine) -> None:
    """A lookup reads, a write commits and invalidates, then the lookup finishes: its (old) answer
    goes to its own request only; the next lookup reads the new data."""
    documents = DirectoryDocuments(
        engine, DocumentCache(Generations(), 1 << 20), a1_hash=False, all_users_group="all", timeout=5
    )
    lookup = Lookup(Kind.USER, "xmlcurl.test", "2000")
    read, release = asyncio.Event(), asyncio.Event()
    real_read = documents._read

    async def slow_read(conn: AsyncConnection, wanted: Lookup) -> Document:
        document = await real_read(conn, wanted)
        read.set()
        await release.wait()
        return document

    documents._read = slow_read  # type: ignore[method-assign, assignment]
    racing = asyncio.create_task(documents.load(lookup))
    await read.wait()
    async with engine.connect() as conn:
        await conn.execution_options(**WRITE)
        async with conn.begin():
            await set_password(conn, "after-the-write")
    documents.cache.generations.bump(["xmlcurl.test"])  # what the change listener does after commit
    release.set()
    old = await racing
    assert params(users_in(domain_of(old.body, "xmlcurl.test"))["2000"])["password"] == "s3cret"
    assert documents.cached(lookup) is None
    documents._read = real_read  # type: ignore[method-assign]
    new = await documents.load(lookup)
    assert params(users_in(domain_of(new.body, "xmlcurl.test"))["2000"])["password"] == "after-the-write"
    assert documents.cached(lookup) == new


def slow_documents(engine: AsyncEngine, timeout: float = 5) -> tuple[DirectoryDocuments, list[Lookup], asyncio.Event]:
    """Documents whose reads wait for ``release`` (and are counted in the list)."""
    documents = DirectoryDocuments(
        engine, DocumentCache(Generations(), 1 << 20), a1_hash=False, all_users_group="all", timeout=timeout
    )
    reads: list[Lookup] = []
    release = asyncio.Event()
    real_read = documents._read

    async def slow_read(conn: AsyncConnection, wanted: Lookup) -> Document:
        reads.append(wanted)
        await release.wait()
        return await real_read(conn, wanted)

    documents._read = slow_read  # type: ignore[method-assign, assignment]
    return documents, reads, release


@pytest.mark.anyio
async def test_lookups_of_the_same_key_share_one_read(engine: AsyncEngine) -> None:
    documents, reads, release = slow_documents(engine)
    lookup = Lookup(Kind.USER, "xmlcurl.test", "2000")
    waiting = [asyncio.create_task(documents.load(lookup)) for _ in range(5)]
    await asyncio.sleep(0.05)
    release.set()
    answers = await asyncio.gather(*waiting)
    assert len(reads) == 1 and len({answer.body for answer in answers}) == 1


@pytest.mark.anyio
async def test_a_read_past_the_timeout_still_fills_the_cache(engine: AsyncEngine) -> None:
    documents, reads, release = slow_documents(engine, timeout=0.1)
    lookup = Lookup(Kind.USER, "xmlcurl.test", "2001")
    with pytest.raises(TimeoutError):
        await documents.load(lookup)
    with pytest.raises(TimeoutError):
        await documents.load(lookup)  # joins the read under way
    assert len(reads) == 1
    release.set()
    for _ in range(100):
        if documents.cached(lookup) is not None:
            break
        await asyncio.sleep(0.01)
    found = documents.cached(lookup)
    assert found is not None and b'value="s3cret2"' in found.body


@pytest.mark.anyio
async def test_a_lookup_after_a_write_does_not_join_an_older_read(engine: AsyncEngine) -> None:
    documents, reads, release = slow_documents(engine)
    lookup = Lookup(Kind.USER, "xmlcurl.test", "2000")
    before = asyncio.create_task(documents.load(lookup))
    await asyncio.sleep(0.05)
    documents.cache.generations.bump(["xmlcurl.test"])
    after = asyncio.create_task(documents.load(lookup))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(before, after)
    assert len(reads) == 2


@pytest.mark.anyio
async def test_whole_answers_too_big_to_build(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents_module, "WHOLE_MAX_USERS", 1)
    documents = DirectoryDocuments(
        engine, DocumentCache(Generations(), 1 << 20), a1_hash=False, all_users_group="all", timeout=5
    )
    assert await documents.load(Lookup(Kind.DIRECTORY)) == NOT_FOUND
    assert await documents.load(Lookup(Kind.DOMAIN, "xmlcurl.test")) == NOT_FOUND
    assert await documents.load(Lookup(Kind.GROUP, "xmlcurl.test", "all")) == NOT_FOUND
    # A user, a group, the gateways are still answered.
    assert (await documents.load(Lookup(Kind.USER, "xmlcurl.test", "2000"))).found
    assert (await documents.load(Lookup(Kind.GROUP, "xmlcurl.test", "sales"))).found
    monkeypatch.setattr(documents_module, "WHOLE_MAX_USERS", 2)
    documents.cache.generations.bump(["xmlcurl.test"])
    assert (await documents.load(Lookup(Kind.DIRECTORY))).found
