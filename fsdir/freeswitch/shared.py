"""The small file the API process shares with the xml_curl worker processes.

Layout: the generation counters (``doc_cache.Generations``: written by the API process only, after
each commit), then one row of lookup counters per process (``metrics.LookupMetrics``: row 0 for the
API process, row *i* for worker *i*, each written by its owner only). Mapped with mmap, on tmpfs
when there is one, so a read or a write is a plain memory access.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fsdir.freeswitch.doc_cache import GENERATIONS_BYTES


def _directory() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class SharedFile:
    def __init__(self, path: str, row_doubles: int, rows: int, *, owner: bool) -> None:
        self.path = path
        self.rows = rows
        self._row_bytes = row_doubles * 8
        self._owner = owner
        size = GENERATIONS_BYTES + self._row_bytes * rows
        with open(path, "r+b") as handle:
            self._map = mmap.mmap(handle.fileno(), size)
        self._view = memoryview(self._map)

    @classmethod
    def create(cls, row_doubles: int, rows: int) -> SharedFile:
        """A new zeroed file, readable by this user only; removed by :meth:`close`."""
        fd, path = tempfile.mkstemp(prefix="fsdir-xmlcurl-", dir=_directory())
        try:
            os.ftruncate(fd, GENERATIONS_BYTES + row_doubles * 8 * rows)
        finally:
            os.close(fd)
        return cls(path, row_doubles, rows, owner=True)

    @classmethod
    def attach(cls, path: str, row_doubles: int, rows: int) -> SharedFile:
        return cls(path, row_doubles, rows, owner=False)

    @property
    def generations(self) -> memoryview:
        return self._view[:GENERATIONS_BYTES]

    def row(self, index: int) -> memoryview[float]:
        start = GENERATIONS_BYTES + index * self._row_bytes
        return self._view[start : start + self._row_bytes].cast("d")

    def all_rows(self) -> Iterator[memoryview[float]]:
        return (self.row(index) for index in range(self.rows))

    def close(self) -> None:
        """Unmap (once every view taken from it is released); the creator also removes the file."""
        self._view.release()
        try:
            self._map.close()
        except BufferError:
            # Views still held elsewhere (the cache's counters): the mapping goes with the process.
            pass
        if self._owner:
            Path(self.path).unlink(missing_ok=True)
