"""The fetcher: one request on the crawl's shared session, streamed, capped and classified.

Redirects are not followed here: a 3xx comes back with its ``location`` so the engine can check
scope and dedup for every hop and count the target host's politeness slots. Bodies of 2xx answers
stream to a :class:`~crawler.sinks.pages.PageFile`; the decoded size is counted as it arrives, so a
lying Content-Length or a gzip bomb is cut off at ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from crawler.config import Job
from crawler.errors import FetchError, Kind
from crawler.resolver import PinnedResolver
from crawler.sinks.pages import PageFile

CHUNK = 1 << 16
DRAIN = 1 << 16
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(slots=True)
class Response:
    """What the engine needs from one answer; ``error`` is set for HTTP error statuses."""

    status: int
    content_type: str | None = None
    location: str | None = None
    nbytes: int = 0
    sha256: str | None = None
    path: str | None = None
    body: bytes | None = None
    error: FetchError | None = None


def make_session(job: Job) -> aiohttp.ClientSession:
    """The crawl's single session: pinned resolver, timeouts, a cookie jar that accepts IP hosts."""
    pins = job.resolve_pins()
    connector = aiohttp.TCPConnector(
        limit=job.concurrency, limit_per_host=0, ttl_dns_cache=300,
        resolver=PinnedResolver(pins) if pins else None,
    )
    t = job.timeout
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.read),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        raise_for_status=False,
    )


class Fetcher:
    """Performs GETs for the engine and for robots.txt."""

    def __init__(self, session: aiohttp.ClientSession, job: Job) -> None:
        self._session = session
        self._job = job
        self._parse_cap = min(job.max_parse_bytes, job.max_bytes)
        self.headers = CIMultiDict({"User-Agent": job.user_agent, **job.headers})

    def request_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``session.get`` shared by every request of the crawl."""
        kw: dict[str, Any] = {"headers": self.headers, "allow_redirects": False}
        if self._job.cookies:
            kw["cookies"] = self._job.cookies
        return kw

    async def fetch(self, url: URL, page: PageFile | None) -> Response:
        """GET ``url``; 2xx bodies go to ``page``. Raises FetchError for transport failures."""
        try:
            async with self._session.get(url, **self.request_kwargs()) as resp:
                return await self._handle(resp, page)
        except FetchError:
            raise
        except Exception as e:  # every transport failure is classified, none escapes raw
            raise classify(e) from None

    async def get_small(self, url: URL, limit: int) -> tuple[int, bytes]:
        """Status and body (at most ``limit`` bytes) of a small resource such as robots.txt."""
        try:
            async with self._session.get(url, headers=self.headers) as resp:
                body, _ = await self._read_capped(resp, limit, None)
                return resp.status, body
        except FetchError:
            raise
        except Exception as e:
            raise classify(e) from None

    async def _handle(self, resp: aiohttp.ClientResponse, page: PageFile | None) -> Response:
        status = resp.status
        ctype = resp.headers.get("Content-Type")
        if 300 <= status < 400 and "Location" in resp.headers:
            await _drain(resp)
            return Response(status, ctype, location=resp.headers["Location"])
        if not 200 <= status < 300:
            await _drain(resp)
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._job.max_retry_after)
            error = FetchError(Kind.HTTP, f"{status} {resp.reason or ''}".strip(),
                               retryable=status in RETRY_STATUS, retry_after=retry_after)
            return Response(status, ctype, error=error)
        declared = resp.content_length
        if declared is not None and declared > self._job.max_bytes and not resp.headers.get("Content-Encoding"):
            raise FetchError(Kind.TOO_LARGE, f"Content-Length {declared} exceeds max_bytes {self._job.max_bytes}")
        is_html = ctype is not None and "html" in ctype.lower()
        digest = hashlib.sha256()
        try:
            body, size = await self._read_capped(resp, self._job.max_bytes, page, digest,
                                                 keep=self._parse_cap if is_html else 0)
            path = await page.commit() if page is not None else None
        except BaseException:
            if page is not None:
                await page.discard()
            raise
        return Response(status, ctype, nbytes=size, sha256=digest.hexdigest(),
                        path=path, body=body if is_html else None)

    async def _read_capped(self, resp: aiohttp.ClientResponse, limit: int, page: PageFile | None,
                           digest: Any = None, keep: int | None = None) -> tuple[bytes, int]:
        """Stream the decoded body; raise TOO_LARGE past ``limit``.

        Returns the first ``keep`` bytes (all of it by default) and the full decoded size.
        """
        keep = limit if keep is None else keep
        kept: list[bytes] = []
        size = kept_size = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise FetchError(Kind.TOO_LARGE, f"body exceeds {limit} bytes")
            if digest is not None:
                digest.update(chunk)
            if page is not None:
                await page.write(chunk)
            if kept_size < keep:
                kept.append(chunk[: keep - kept_size])
                kept_size += len(kept[-1])
        return b"".join(kept), size


async def _drain(resp: aiohttp.ClientResponse) -> None:
    """Read a small unwanted body so the connection can be reused; close it if the body is big."""
    if resp.content_length is not None and resp.content_length > DRAIN:
        resp.close()
        return
    read = 0
    async for chunk in resp.content.iter_chunked(CHUNK):
        read += len(chunk)
        if read > DRAIN:
            resp.close()
            return


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped at ``cap``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


def classify(exc: BaseException) -> FetchError:
    """Map an aiohttp/OS exception to an error kind, a readable message and retryability."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(Kind.DNS, f"cannot resolve host: {text}", retryable=True)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return FetchError(Kind.PROXY, f"proxy connection failed: {text}", retryable=True)
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return FetchError(Kind.TLS, text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(Kind.CONNECT, text, retryable=True)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return FetchError(Kind.TIMEOUT, f"timed out: {text}" if str(exc) else "timed out", retryable=True)
    if isinstance(exc, aiohttp.ClientPayloadError):
        if "encoding" in text.lower() or "decompress" in text.lower():
            return FetchError(Kind.DECODE, f"cannot decode body: {text}")
        return FetchError(Kind.ABORTED, f"body cut short: {text}", retryable=True)
    if isinstance(exc, (aiohttp.ClientConnectionError, ConnectionError)):
        return FetchError(Kind.ABORTED, f"connection lost: {text}", retryable=True)
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError(Kind.INVALID_URL, f"invalid URL: {text}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError(Kind.PROTOCOL, f"bad response: {exc.message or text}")
    if isinstance(exc, OSError):
        return FetchError(Kind.STORAGE, f"cannot write page: {text}")
    return FetchError(Kind.PROTOCOL, f"{type(exc).__name__}: {text}")
