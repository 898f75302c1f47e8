"""Page bodies on disk: streamed through a temp file, then atomically renamed into ``OUT/pages``.

A page under its final name is always complete. Small bodies stay in memory until commit (one
open/write/close instead of one thread hop per chunk); bodies past ``spill`` bytes stream to the
temp file chunk by chunk, so memory per fetch stays bounded whatever the page size.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

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
        self._dirs: set[str] = set()
        os.makedirs(self.tmp, exist_ok=True)

    def open(self, url: URL) -> PageFile:
        return PageFile(self, url)

    async def ensure_dir(self, rel_dir: str) -> None:
        if rel_dir not in self._dirs:
            await aiofiles.os.makedirs(self.pages / rel_dir, exist_ok=True)
            self._dirs.add(rel_dir)


class PageFile:
    """One body being written. ``commit`` returns its path relative to OUT; ``discard`` drops it."""

    def __init__(self, store: PageStore, url: URL) -> None:
        self._store = store
        self._url = url
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._file = None
        self._tmp = store.tmp / uuid.uuid4().hex

    async def write(self, chunk: bytes) -> None:
        if self._file is not None:
            await self._file.write(chunk)
            return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > self._store.spill:
            self._file = await aiofiles.open(self._tmp, "wb")
            await self._file.write(b"".join(self._chunks))
            self._chunks = []

    async def commit(self) -> str:
        """Move the body to its final name and return ``pages/...`` relative to OUT."""
        if self._file is None:
            self._file = await aiofiles.open(self._tmp, "wb")
            await self._file.write(b"".join(self._chunks))
            self._chunks = []
        await self._file.close()
        rel = relative_path(self._url)
        try:
            await self._place(rel)
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            # A file already stands where a folder is needed, or the reverse (/a and /a/b both 200).
            rel = f"{host_dir(self._url)}/_conflicts/{hashlib.sha256(str(self._url).encode()).hexdigest()}"
            await self._place(rel)
        return f"pages/{rel}"

    async def _place(self, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        await self._store.ensure_dir(parent)
        await aiofiles.os.replace(self._tmp, self._store.pages / rel)

    async def discard(self) -> None:
        self._chunks = []
        if self._file is not None:
            await self._file.close()
            try:
                await aiofiles.os.remove(self._tmp)
            except FileNotFoundError:
                pass
