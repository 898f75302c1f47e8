"""Page bodies on disk: streamed through a temp file, then atomically renamed into ``OUT/pages``.

A page under its final name is always complete. Small bodies stay in memory until they are
placed: a :class:`Placement` hashes, writes and renames one in a single call. Bodies past ``spill``
bytes stream to the temp file chunk by chunk (hashed as they go), so memory per fetch stays
bounded whatever the page size.

Who places a small HTML body: the parser process, which receives the body anyway
(:meth:`PageFile.hand_over`). Otherwise, and for every other body, one dedicated writer thread
(aiofiles with its own executor). The thread's work overlaps the event loop's, but each of its
system calls hands the GIL back and forth: on a 20,000-host crawl that cost the event loop's
thread a third of its CPU, and the hand-over none (measured: see benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os
from yarl import URL

from crawler.core.response import PendingBody
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

    async def place(self, body: PendingBody) -> tuple[str, str]:
        """Write a body handed over and then not placed by the parser (it was not parsed, or its
        parse failed); ``pages/...`` and its sha256."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, body.place)

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
        data, streamed = None, None  # in memory: hashed on the writer thread; spilled: as it streamed
        if self._file is None:
            data, self._chunks = b"".join(self._chunks), []
        else:
            await self._file.close()
            streamed = self._digest.hexdigest()
        placement = Placement(self._tmp, data, streamed, unless, str(self._store.pages), str(self._url))
        path, self.sha256 = await self._store.place(placement)
        return path

    def hand_over(self, unless: str | None, body: bytes) -> Placement:
        """The body, all of it in memory (``spilled`` is False), as a :class:`Placement` that
        another process may carry out (the parser's, which is sent ``body`` anyway: pickled with
        it, the same bytes cross the pipe once). The body is hashed where it is placed, off the event
        loop; only with ``unless`` (a re-crawl asks "changed?") here, and ``sha256`` is set."""
        assert self._file is None, "a spilled body is committed, not handed over"
        self._chunks = []
        if unless is not None:
            self.sha256 = hashlib.sha256(body).hexdigest()
        return Placement(self._tmp, body, self.sha256 or None, unless, str(self._store.pages), str(self._url))

    @property
    def spilled(self) -> bool:
        """The body outgrew memory and streams to its temp file."""
        return self._file is not None

    async def discard(self) -> None:
        self._chunks = []
        if self._file is not None:
            await self._file.close()
            try:
                await aiofiles.os.remove(self._tmp, executor=self._store.executor)
            except FileNotFoundError:
                pass


@dataclass(frozen=True, slots=True)
class Placement:
    """One body to put under its final name: picklable, so the parser process can do it.

    ``data`` None: the temp file ``tmp`` already holds the body (it spilled). ``unless``: leave a
    file that already holds a body of that sha256 untouched (a re-crawl's unchanged page).
    """

    tmp: str
    data: bytes | None
    digest: str | None  # None: hashed by ``place``
    unless: str | None
    pages: str
    url: str

    def place(self) -> tuple[str, str]:
        """Write ``data`` to ``tmp`` and rename that under ``pages``; returns ``pages/...`` and
        the body's sha256.
        Falls back to ``<host>/_conflicts/<sha256 of URL>`` when a file stands where a folder is
        needed or the reverse (``/a`` and ``/a/b`` both answered 200)."""
        url = URL(self.url, encoded=True)
        rel = relative_path(url)
        size = len(self.data) if self.data is not None else os.path.getsize(self.tmp)
        digest = self.digest or hashlib.sha256(self.data or b"").hexdigest()
        if self.unless == digest and _holds(Path(self.pages, rel), digest, size):
            if self.data is None:
                os.remove(self.tmp)
            return f"pages/{rel}", digest
        try:
            if self.data is not None:
                with open(self.tmp, "wb") as f:
                    f.write(self.data)
            try:
                return f"pages/{_move(self.tmp, self.pages, rel)}", digest
            except (NotADirectoryError, IsADirectoryError, FileExistsError):
                name = hashlib.sha256(self.url.encode()).hexdigest()
                return f"pages/{_move(self.tmp, self.pages, f'{host_dir(url)}/_conflicts/{name}')}", digest
        except OSError:  # no place for it (the page's ``storage`` error): its temp file goes
            with contextlib.suppress(OSError):
                os.remove(self.tmp)
            raise


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


def _move(tmp: str, pages: str, rel: str) -> str:
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
