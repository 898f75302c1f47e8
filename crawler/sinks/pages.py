"""Page bodies on disk: streamed through a temp file, then atomically renamed into ``OUT/pages``.

A page under its final name is always complete. Small bodies stay in memory until commit, then
one thread hop hashes, writes and renames them; bodies past ``spill`` bytes stream to the temp file
chunk by chunk (hashed as they go), so memory per fetch stays bounded whatever the page size.

All file work runs on one dedicated writer thread (aiofiles with its own executor): the kernel's
share of a file write (~0.2 ms for a new 40 KB file on ext4) then overlaps HTML parsing on the
event loop, without the GIL hand-offs of a many-thread pool (measured: see benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os
from yarl import URL

from crawler.sinks.paths import host_dir, relative_path

SPILL = 1 << 20


class PageStore:
    """Maps URLs to files under ``OUT/pages`` and hands out :class:`PageFile` writers."""

    def __init__(self, out: Path, spill: int = SPILL) -> None:
        self.pages = out / "pages"
        self.tmp = out / ".tmp"
        self.spill = spill
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-writer")
        self._names = itertools.count()
        self._prefix = f"{self.tmp}{os.sep}{os.getpid()}-"
        os.makedirs(self.tmp, exist_ok=True)

    def open(self, url: URL) -> PageFile:
        return PageFile(self, url)

    async def holds(self, path: str, sha256: str) -> bool:
        """True when ``path`` (relative to OUT, as records give it) is a file whose body has digest
        ``sha256``: a re-crawl may then ask "changed since?" and keep it on a 304. Hashed on a
        pool thread (hashlib lets go of the GIL), not the writer's, so writes do not queue behind."""
        return await asyncio.to_thread(_holds, self.pages.parent / path, sha256)

    def temp_name(self) -> str:
        """A fresh temp file path (a str: a Path per page costs more than the rest of opening it);
        ``.tmp`` is emptied when a crawl starts."""
        return f"{self._prefix}{next(self._names)}"

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class PageFile:
    """One body being written. ``commit`` returns its path relative to OUT and sets ``sha256``;
    ``discard`` drops it."""

    def __init__(self, store: PageStore, url: URL) -> None:
        self._store = store
        self._url = url
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._file: Any = None
        self._digest: Any = None
        self._tmp = store.temp_name()
        self.sha256 = ""

    async def write(self, chunk: bytes) -> None:
        if self._file is not None:
            self._digest.update(chunk)
            await self._file.write(chunk)
            return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > self._store.spill:
            data = b"".join(self._chunks)
            self._chunks = []
            self._digest = hashlib.sha256(data)
            self._file = await aiofiles.open(self._tmp, "wb", executor=self._store.executor)
            await self._file.write(data)

    async def commit(self, unless: str | None = None) -> str:
        """Move the body to its final name and return ``pages/...`` relative to OUT. With
        ``unless`` (a sha256), a file there that holds a body of that digest is left untouched
        (a re-crawl of an unchanged page keeps its file and its mtime; one edited by hand is
        written again)."""
        data = None
        streamed = None
        if self._file is None:
            data = b"".join(self._chunks)
            self._chunks = []
        else:
            await self._file.close()
            streamed = self._digest.hexdigest()
        store = self._store
        rel, self.sha256 = await _place(
            self._tmp, data, streamed, unless, store.pages, self._url, executor=store.executor
        )
        return f"pages/{rel}"

    async def discard(self) -> None:
        self._chunks = []
        if self._file is not None:
            await self._file.close()
            try:
                await aiofiles.os.remove(self._tmp, executor=self._store.executor)
            except FileNotFoundError:
                pass


def _place_sync(
    tmp: str, data: bytes | None, digest: str | None, unless: str | None, pages: Path, url: URL
) -> tuple[str, str]:
    """Hash ``data`` (if given; else ``tmp`` holds the body, of ``digest``), write it to ``tmp``
    and rename that to its place under ``pages`` — unless the place already holds a body of
    digest ``unless``. Returns the place and the sha256 (hashed here, off the event loop).

    One thread hop per page. Falls back to ``<host>/_conflicts/<sha256 of URL>`` when a file stands
    where a folder is needed or the reverse (``/a`` and ``/a/b`` both answered 200).
    """
    if data is not None:
        digest = hashlib.sha256(data).hexdigest()
    assert digest is not None
    rel = relative_path(url)
    size = len(data) if data is not None else os.path.getsize(tmp)
    if unless is not None and digest == unless and _holds(pages / rel, digest, size):
        if data is None:
            os.remove(tmp)
        return rel, digest
    if data is not None:
        with open(tmp, "wb") as f:
            f.write(data)
    try:
        return _move(tmp, pages, rel), digest
    except (NotADirectoryError, IsADirectoryError, FileExistsError):
        name = hashlib.sha256(str(url).encode()).hexdigest()
        return _move(tmp, pages, f"{host_dir(url)}/_conflicts/{name}"), digest


def _holds(path: Path, sha256: str, size: int | None = None) -> bool:
    """``path`` is a regular file of ``size`` bytes (when known: checked first, for free) whose
    sha256 is ``sha256``."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
                return False
            return hashlib.file_digest(f, "sha256").hexdigest() == sha256
    except OSError:
        return False


def _move(tmp: str, pages: Path, rel: str) -> str:
    """Rename ``tmp`` to ``pages/rel``; make its folder only when the rename says it is missing
    (a makedirs per page is a stat per level: most of a small page's placing in a broad crawl)."""
    target = f"{pages}{os.sep}{rel}"
    try:
        os.replace(tmp, target)
    except FileNotFoundError:  # a new folder (or one removed while the crawl ran)
        if not os.path.exists(tmp):
            raise
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(tmp, target)
    return rel


_place = aiofiles.os.wrap(_place_sync)
