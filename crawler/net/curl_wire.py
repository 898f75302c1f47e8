"""One curl transfer as a :class:`~crawler.net.wire.Wire`: curl's callbacks fill a small buffer
that the fetcher drains.

curl calls the header and write callbacks from inside the event loop (AsyncCurl drives the multi
handle from the loop's readers and timers), so no locks are needed. The buffer is bounded: past
``HIGH`` buffered bytes the write callback pauses the transfer, and the reader resumes it once it
has taken the bytes (a slow disk never makes the body pile up in memory).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from curl_cffi import Curl, CurlInfo
from curl_cffi.curl import CURL_WRITEFUNC_ERROR, CURL_WRITEFUNC_PAUSE, CURLPAUSE_CONT, CurlError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from crawler.core.exchange import Exchange
from crawler.net.proxy_blame import SQUID_ERROR

HIGH = 1 << 20  # bytes buffered before the transfer pauses
HEADER_OUT = 2  # curl_infotype CURLINFO_HEADER_OUT: the request head as sent


class CurlFailure(Exception):
    """A transfer that curl ended with an error, with what the handle knew about it then (the
    handle goes back to the pool and is reused, so these are read at once)."""

    def __init__(
        self,
        code: int,
        message: str,
        proxy_error: int,
        connect_code: int,
        proxy_tls: int = 0,
        connect_reason: str = "",
        connect_squid: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.proxy_error = proxy_error
        self.connect_code = connect_code
        self.proxy_tls = proxy_tls  # PROXY_SSL_VERIFYRESULT: the https:// proxy's certificate failed
        self.connect_reason = connect_reason  # the reason phrase of the proxy's answer to CONNECT
        self.connect_squid = connect_squid  # its X-Squid-Error header (squid says why it failed)


class CurlWire:
    """The answer of one curl transfer: head when the body starts (or the transfer ends), body as
    the buffered chunks. ``limit`` caps the bytes received (the fetcher caps the decoded ones)."""

    raw = True  # curl never decodes here: the fetcher's BodyDecoder does, as for WARC

    def __init__(self, curl: Curl, url: URL, sent: list[tuple[str, str]], limit: int) -> None:
        self._curl = curl
        self._url = url
        self._sent = sent
        self._sent_head: list[bytes] | None = None
        self._limit = limit
        self._lines: list[bytes] = []  # the head being received
        self._head: list[bytes] = []  # the last complete head (a proxy's CONNECT answer comes first)
        self._buffer: deque[bytes] = deque()
        self._buffered = self._received = 0
        self._paused = self._aborted = False
        self._ended: BaseException | bool = False  # True: whole; an exception: failed
        self._waiter: asyncio.Future[None] | None = None
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.status = 0
        self.reason = ""
        self.http_version = "1.1"
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())

    # curl's callbacks (called from the loop, inside AsyncCurl's socket actions)

    def on_header(self, line: bytes) -> int:
        if line.startswith(b"HTTP/"):
            self._lines = [line]
        elif line in (b"\r\n", b"\n"):
            if self._lines[:1] and self._lines[0].startswith(b"HTTP/"):  # (trailers have no status line)
                self._head = self._lines
            self._lines = []
        else:
            self._lines.append(line)
        return len(line)

    def on_body(self, chunk: bytes) -> int:
        if self._aborted:
            return CURL_WRITEFUNC_ERROR
        if self._buffered >= HIGH:
            self._paused = True
            return CURL_WRITEFUNC_PAUSE  # curl keeps the chunk and gives it again on resume
        self._received += len(chunk)
        if self._received > self._limit + 1:  # (one byte over: the fetcher names the limit)
            return CURL_WRITEFUNC_ERROR
        if not self._started.done():
            self._read_head()
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        self._wake()
        return len(chunk)

    def on_debug(self, kind: int, data: bytes) -> None:
        if kind == HEADER_OUT:
            self._sent_head = data.split(b"\r\n")

    def on_done(self, done: asyncio.Future[None]) -> None:
        """The transfer ended: whole, failed, or removed by :meth:`abort` (cancelled)."""
        if done.cancelled():
            self._ended = asyncio.CancelledError()
        elif (e := done.exception()) is not None:
            self._ended = self._failure(e)
        else:
            self._ended = True
        if not self._started.done():
            if isinstance(self._ended, asyncio.CancelledError):
                self._started.cancel()  # (removed while the fetcher waited: it is being cancelled)
            elif isinstance(self._ended, BaseException):
                self._started.set_exception(self._ended)
            else:
                self._read_head()
        self._wake()

    # what the fetcher reads

    async def started(self) -> None:
        """Wait for the head (raises the transfer's failure if it ends before one)."""
        await self._started

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._buffer:
                chunk = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
                self._buffer.clear()
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    self._curl.pause(CURLPAUSE_CONT)
                yield chunk
            elif self._ended is True:
                return
            elif isinstance(self._ended, BaseException):
                raise self._ended
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter

    def exchange(self) -> Exchange:
        sent = self._sent
        if self._sent_head:  # what curl sent, the browser's headers included
            sent = [_split(line) for line in self._sent_head[1:] if b":" in line]
        return Exchange(
            str(self._url),
            "GET",
            self._url.raw_host or "",
            self._url.raw_path_qs or "/",
            sent,
            self.status,
            self.reason,
            f"HTTP/{self.http_version}",
            [_split(line) for line in self._head[1:] if b":" in line],
        )

    def abort(self) -> None:
        self._aborted = True

    # inside

    def _read_head(self) -> None:
        status_line = self._head[0].decode("latin-1").strip() if self._head else "HTTP/1.1 0"
        version, _, rest = status_line.partition(" ")
        code, _, self.reason = rest.partition(" ")
        self.http_version = version.removeprefix("HTTP/") or "1.1"
        self.status = int(code) if code.isdigit() else int(self._curl.getinfo(CurlInfo.RESPONSE_CODE))  # type: ignore[arg-type]
        self.headers = CIMultiDictProxy(CIMultiDict(_split(line) for line in self._head[1:] if b":" in line))
        self._started.set_result(None)

    def _failure(self, e: BaseException) -> BaseException:
        if not isinstance(e, CurlError):
            return e
        curl = self._curl
        code = int(e.code)
        message = str(e)
        if self._aborted or (code == 23 and self._received > self._limit):
            message = f"body exceeds {self._limit} bytes" if not self._aborted else "aborted by the crawler"
        proxy_error = int(curl.getinfo(CurlInfo.PROXY_ERROR))  # type: ignore[arg-type]
        connect_code = int(curl.getinfo(CurlInfo.HTTP_CONNECTCODE))  # type: ignore[arg-type]
        proxy_tls = int(curl.getinfo(CurlInfo.PROXY_SSL_VERIFYRESULT))  # type: ignore[arg-type]
        reason = squid = ""
        if connect_code >= 300 and self._head:  # the tunnel was refused: the head kept is the proxy's answer
            status_line = self._head[0].decode("latin-1").split(None, 2)  # version, status, reason phrase
            reason = status_line[2].strip() if len(status_line) == 3 else ""
            squid = next((v for k, v in map(_split, self._head[1:]) if k.lower() == SQUID_ERROR.lower()), "")
        return CurlFailure(code, message, proxy_error, connect_code, proxy_tls, reason, squid)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _split(line: bytes) -> tuple[str, str]:
    name, _, value = line.decode("latin-1").partition(":")
    return name.strip(), value.strip()
