"""The parser process: pages are parsed in a forked child so the event loop keeps fetching.

Parsing and link extraction are about two thirds of the per-page CPU on the event loop, and a
thread cannot take them over: lexbor releases the GIL, but the handoffs back cost more than they
save (measured: slower, more CPU). A child process has a GIL of its own and uses the second core.

The child is forked when the crawl starts, before any thread exists, so it shares the loaded
modules and costs no start-up. It speaks length-prefixed pickles over a socketpair: (id, Fetched)
in, with the page's body placement when it has one (the child writes the body's file too, unless
the page is blocked: the bytes are here anyway, and the event loop's process then never touches
the disk for them);
(id, PageResult or error text, the file's path or OSError) out. It exits on EOF, so it never
outlives the crawl, even after kill -9. If it dies (a crash in the C parser, the OOM killer), the
pages it held go to a new child; the page it was parsing is given up if it kills a second one.
A child stuck on one page for PARSE_TIMEOUT seconds (a pathological document) is killed the same way.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from crawler.core.errors import FetchError, Kind
from crawler.core.response import PendingBody
from crawler.parsing.page import Fetched
from crawler.parsing.reader import PageReader, PageResult

_HEADER = struct.Struct("!I")
PARSE_TIMEOUT = 60.0  # seconds on one page; lexbor parses tens of MB per second


Stored = tuple[str, str] | OSError | None  # a body placement's outcome: (path, sha256), its failure, or none sent


class Parsed(NamedTuple):
    """A page's result, and what became of the body placement sent with it: its path under OUT
    (``pages/...``) and sha256, the OSError that stopped it, or None when none was sent."""

    result: PageResult
    stored: Stored = None


@dataclass(eq=False)
class _Child:
    """One forked parser and the pages sent to it. Pages belong to the child they were sent to,
    so when one dies its listener settles its own pages and process, never a newer child's."""

    pid: int
    writer: asyncio.StreamWriter
    pending: dict[int, asyncio.Future[Parsed]] = field(default_factory=dict)
    busy_since: float = 0.0  # when it started on the page it is parsing now
    stuck: bool = False  # killed by the watchdog
    listener: asyncio.Task[None] | None = None


class ParserProcess:
    """``await parser.read(...)`` gives the page's result, computed in the child process."""

    def __init__(self, reader: PageReader, warn: Callable[[str], None] | None = None) -> None:
        self._reader = reader
        self._warn = warn
        self._restart = asyncio.Lock()
        self._fallback: InlineParser | None = None
        self._child: _Child | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._next_id = 0
        self.deaths = 0

    @property
    def pid(self) -> int:
        return self._child.pid if self._child is not None else 0

    @property
    def load(self) -> int:
        """Pages sent to the child and not answered yet; a parser that could not fork (parsing on
        the event loop) counts as the busiest, so a pool sends it pages only when all are so."""
        if self._fallback is not None:
            return 1 << 30
        return len(self._child.pending) if self._child is not None else 0

    async def start(self) -> None:
        """Fork the child. Call before the crawl starts threads (the first fork has none).
        If the system refuses (process or memory limits), parse on the event loop instead."""
        parent, child = socket.socketpair()
        try:
            with warnings.catch_warnings():  # a restart forks with threads alive; the child only parses
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError as e:
            parent.close()
            child.close()
            self._fallback = InlineParser(self._reader)
            if self._warn is not None:
                self._warn(f"cannot start the parser process ({e.strerror or e}); parsing inline")
            return
        if pid == 0:  # pragma: no cover - runs in the child, which leaves by os._exit
            try:
                _serve(child, self._reader)
            finally:
                os._exit(0)
        child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=1 << 24)
        self._child = _Child(pid, writer)
        self._child.listener = asyncio.create_task(self._listen(reader, self._child))
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    @property
    def reads_headers(self) -> bool:
        return self._reader.reads_headers

    async def read(self, page: Fetched, body: PendingBody | None = None) -> Parsed:
        """The page's result, with ``body`` (its placement) carried out. If the child dies,
        its pages go to a new one (placing a body twice does no harm); the page it was parsing is
        given up (FetchError INTERNAL) when that happens to it twice."""
        suspected = False
        while True:  # bounded: every death makes one page a suspect, and a page is one at most twice
            try:
                return await self._send(page, body)
            except _Died as died:
                if died.suspect and suspected:
                    raise FetchError(
                        Kind.INTERNAL, f"the parser process died ({died.status}) twice while parsing this page"
                    ) from None
                suspected = suspected or died.suspect

    async def _send(self, page: Fetched, body: PendingBody | None) -> Parsed:
        async with self._restart:  # one new child, however many pages notice the old one died
            if self._fallback is None and (self._child is None or self._child.writer.is_closing()):
                await self.start()
        if self._fallback is not None:
            return await self._fallback.read(page, body)
        child = self._child
        assert child is not None
        self._next_id += 1
        ident = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Parsed] = loop.create_future()
        if not child.pending:
            child.busy_since = loop.time()
        child.pending[ident] = future
        payload = pickle.dumps((ident, page, body), pickle.HIGHEST_PROTOCOL)  # one copy of a shared body
        child.writer.write(_HEADER.pack(len(payload)) + payload)  # bounded by the crawl's concurrency
        return await future

    async def close(self) -> None:
        """Stop the child. It holds no state worth keeping, so it is killed, not drained."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        child, self._child = self._child, None
        if child is not None:
            if child.listener is not None:
                child.listener.cancel()
            child.writer.close()
            _reap(child)

    async def _listen(self, reader: asyncio.StreamReader, child: _Child) -> None:
        try:
            while True:
                size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
                ident, result, stored = pickle.loads(await reader.readexactly(size))
                future = child.pending.pop(ident)
                child.busy_since = asyncio.get_running_loop().time()
                if future.done():  # its reader was cancelled (the crawl is stopping): nothing to tell
                    continue
                if isinstance(result, PageResult):
                    future.set_result(Parsed(result, stored))
                else:
                    future.set_exception(_failed(result))
        except Exception:  # EOF, a reset or a garbled answer: either way this child is done
            self._died(child)

    async def _watch(self) -> None:
        """Kill the child when one page has held it for PARSE_TIMEOUT (its listener sees it die)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(PARSE_TIMEOUT / 4)
            child = self._child
            if child is not None and child.pending and child.pid and loop.time() - child.busy_since > PARSE_TIMEOUT:
                child.stuck = True
                os.kill(child.pid, signal.SIGKILL)

    def _died(self, child: _Child) -> None:
        """Hand a dead child's pages back to ``read``. The child answers in order, so the
        oldest unanswered page is the one it was parsing: the suspect."""
        child.writer.close()
        if self._child is child:
            self._child = None
        status = _reap(child)
        if child.stuck:
            status = f"stopped after {PARSE_TIMEOUT:g}s on one page"
        self.deaths += 1
        pending, child.pending = child.pending, {}
        if self._warn is not None:
            self._warn(f"the parser process died ({status}); the {len(pending)} pages it held go to a new one")
        oldest = min(pending, default=0)
        for ident, future in pending.items():
            if not future.done():
                future.set_exception(_Died(status, suspect=ident == oldest))


def _reap(child: _Child) -> str:
    """Kill (a no-op if it is already dead) and collect the child; say how it ended."""
    if not child.pid:
        return "not started"
    pid, child.pid = child.pid, 0
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class InlineParser:
    """ParserProcess's interface, parsing on the event loop: for one-CPU machines, where a second
    process has no core of its own, and for hosts that do not want a fork (``parser: inline``)."""

    def __init__(self, reader: PageReader) -> None:
        self._reader = reader

    async def start(self) -> None:
        pass

    @property
    def reads_headers(self) -> bool:
        return self._reader.reads_headers

    async def read(self, page: Fetched, body: PendingBody | None = None) -> Parsed:
        """The page's result; ``body`` is placed here on the event loop, as the page is parsed."""
        result, stored = _read(self._reader, page, body)
        if isinstance(result, str):
            raise _failed(result)
        return Parsed(result, stored)

    async def close(self) -> None:
        pass


class ParserPool:
    """Several parser processes; each page goes to the one with the fewest pages waiting. With
    ``content:`` a page costs several times its parse, and one child would hold the crawl back."""

    def __init__(self, parsers: list[ParserProcess]) -> None:
        self.parsers = parsers

    async def start(self) -> None:
        for parser in self.parsers:  # all forked before the crawl starts threads
            await parser.start()

    @property
    def reads_headers(self) -> bool:
        return self.parsers[0].reads_headers

    @property
    def deaths(self) -> int:
        return sum(parser.deaths for parser in self.parsers)

    async def read(self, page: Fetched, body: PendingBody | None = None) -> Parsed:
        return await min(self.parsers, key=_load).read(page, body)

    async def close(self) -> None:
        for parser in self.parsers:
            await parser.close()


def _load(parser: ParserProcess) -> int:
    return parser.load


Parser = ParserProcess | InlineParser | ParserPool
MAX_PARSERS = 4  # parser processes of a crawl that extracts content


def make_parser(
    mode: str, reader: PageReader, warn: Callable[[str], None] | None = None, *, heavy: bool = False
) -> Parser:
    """``auto`` parses in a second process when this process may use two or more CPUs; ``heavy``
    pages (content extraction) in as many as there are CPUs (at least two, at most MAX_PARSERS)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if mode == "auto":
        mode = "process" if cpus > 1 else "inline"
    if mode != "process":
        return InlineParser(reader)
    count = min(max(cpus, 2), MAX_PARSERS) if heavy else 1
    if count == 1:
        return ParserProcess(reader, warn)
    return ParserPool([ParserProcess(reader, warn) for _ in range(count)])


def _read(reader: PageReader, page: Fetched, body: PendingBody | None) -> tuple[PageResult | str, Stored]:
    """The page's result, or the text of the bug that stopped it: one page must not stop the others
    (text, because it crosses the pipe from the child; FetchError does not pickle). Then the body's
    file is written (its path and sha256) or fails to be (the OSError, which pickles), unless the
    page is blocked (a challenge page's file is never kept)."""
    result: PageResult | str
    try:
        result = reader.read(page)
    except Exception as e:
        result = f"{type(e).__name__}: {e}"
    stored: Stored = None
    if body is not None and not (isinstance(result, PageResult) and result.blocked):
        try:
            stored = body.place()
        except OSError as e:
            stored = e
    return result, stored


def _failed(bug: str) -> FetchError:
    return FetchError(Kind.INTERNAL, f"parser: {bug}")


class _Died(Exception):
    def __init__(self, status: str, suspect: bool) -> None:
        super().__init__(status)
        self.status = status
        self.suspect = suspect


def _serve(sock: socket.socket, reader: PageReader) -> None:  # pragma: no cover - child only
    """The child's loop: read a page, answer with its result, until the parent goes away."""
    keep = sock.fileno()  # drop inherited files: sockets, the output lock, the parent's end
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.set_wakeup_fd(-1)
    except ValueError:  # forked from a thread other than the main one: nothing to undo
        pass
    inp = sock.makefile("rb", buffering=1 << 20)
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        ident, page, body = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        payload = pickle.dumps((ident, *_read(reader, page, body)), pickle.HIGHEST_PROTOCOL)
        sock.sendall(_HEADER.pack(len(payload)) + payload)
