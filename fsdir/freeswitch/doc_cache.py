"""The cache of rendered mod_xml_curl answers, and the generation counters that keep it fresh.

Every write bumps the counter of each domain it touched (counters are per domain-hash slot, so a
fixed array serves any number of domains) and the global counter. A cached document remembers the
counter of its slot as it was *before* its data was read; it is served only while the counter
still has that value. So a lookup that read the database before a write can never be served after
the write's invalidation, whether it finished before or after it, and invalidation is O(changed
domains), whatever the cache holds. The counters live in plain memory, or in a file shared with the
xml_curl worker processes (a worker's hit costs one memory read, no SQL).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

SLOTS = 1 << 14
# The counter that every change bumps: documents that hold several domains use it.
GLOBAL_SLOT = SLOTS
GENERATIONS_BYTES = (SLOTS + 1) * 8
# Rough bytes per entry besides its own part of the document: key, strings, tuples, dict node.
ENTRY_OVERHEAD = 500


def domain_slot(domain: str) -> int:
    """The counter of a (lower-cased) domain name; the same in every process (no hash seed)."""
    return zlib.crc32(domain.encode("utf-8", "surrogatepass")) & (SLOTS - 1)


class Generations:
    """Write counters, one per domain-hash slot plus the global one. Only one process bumps them."""

    def __init__(self, buffer: memoryview | None = None) -> None:
        raw = buffer if buffer is not None else memoryview(bytearray(GENERATIONS_BYTES))
        self._counters = raw.cast("Q") if raw.format != "Q" else raw
        if len(self._counters) != SLOTS + 1:
            raise ValueError(f"generations need {GENERATIONS_BYTES} bytes")

    def __getitem__(self, slot: int) -> int:
        return self._counters[slot]

    def bump(self, domains: Iterable[str]) -> None:
        """After a commit, before its reply: documents of these domains (and every multi-domain
        document) read before now are stale."""
        counters = self._counters
        for slot in {domain_slot(domain.lower()) for domain in domains}:
            counters[slot] += 1
        counters[GLOBAL_SLOT] += 1


class Document(NamedTuple):
    """A rendered answer, ``head + tail``; ``found`` says whether it holds what was asked for.

    ``head``, when set, is shared by many documents (a domain's part of its users' answers) and is
    not counted in the cache's size; memory per cached user is then about its own part only.
    """

    tail: bytes
    found: bool
    head: bytes = b""

    @property
    def body(self) -> bytes:
        return self.head + self.tail


# Keys and entries are plain tuples of strings, bytes and numbers: the garbage collector stops
# tracking such tuples, so 100,000 cached documents don't slow down its full collections.
Key = tuple[int, str, str]
_Entry = tuple[int, int, bytes, bool, bytes]  # slot, generation, tail, found, head


class DocumentCache:
    """Documents by lookup key, least recently used first out beyond ``max_bytes``."""

    def __init__(self, generations: Generations, max_bytes: int) -> None:
        self.generations = generations
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Document | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.generations[entry[0]] != entry[1]:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return Document(entry[2], entry[3], entry[4])

    def put(self, key: Key, slot: int, generation: int, document: Document) -> None:
        """Store a document whose data was read after ``generation`` was taken from ``slot``;
        dropped at once if a write has bumped the slot since."""
        if self.generations[slot] != generation:
            return
        cost = len(document.tail) + ENTRY_OVERHEAD
        if cost > self.max_bytes // 8:
            return  # one huge document must not push out everything else
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (slot, generation, document.tail, document.found, document.head)
        self.size += cost
        while self.size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key)
        self.size -= len(entry[2]) + ENTRY_OVERHEAD
