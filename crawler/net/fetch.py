"""The fetcher: one request over the transport its URL takes, streamed, capped and classified.

Redirects are not followed here: a 3xx comes back with its ``location`` so the engine can check
scope and dedup for every hop and count the target host's politeness slots. Bodies of 2xx answers
stream to a :class:`~crawler.sinks.pages.PageFile`; the decoded size is counted as it arrives, so a
lying Content-Length or a gzip bomb is cut off at ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict
from yarl import URL

from crawler.core.blocked import blocked_page
from crawler.core.errors import FetchError, InvalidURL, Kind
from crawler.core.outgoing import Outgoing
from crawler.core.request import Visit
from crawler.core.response import Response, is_page
from crawler.core.urls import join
from crawler.net.decode import BodyDecoder, decoded
from crawler.net.proxies import Proxy, Router
from crawler.net.proxy_blame import ban_signal, blame, forwarded_target, forwards
from crawler.net.resolver import literal_blocked
from crawler.net.retry_after import status_error
from crawler.net.session import FetchSettings
from crawler.net.transports import Transports
from crawler.net.wire import Ask, Form, Rejected, Small, Transport, Wire
from crawler.sinks.pages import PageFile, PageStore, Placement

if TYPE_CHECKING:  # warcio is imported only by crawls that write WARC (identities import the fetcher)
    from crawler.net.identities import Identity
    from crawler.sinks.warc import WarcSink

DRAIN = 1 << 16
SMALL_REDIRECTS = 5


class Fetcher:
    """Performs GETs for the engine and for robots.txt, directly or through a proxy, over the
    transport the URL's rules choose."""

    def __init__(
        self,
        transports: Transports,
        settings: FetchSettings,
        router: Router,
        warc: WarcSink | None = None,
    ) -> None:
        self._transports = transports
        self._settings = settings
        self._router = router
        self._warc = warc
        self._ban_body = re.compile(settings.proxy_ban_body.encode()) if settings.proxy_ban_body else None
        self._blocks = settings.blocked  # (a 2xx page's body is the parser's to check)
        self.headers = CIMultiDict({"User-Agent": settings.user_agent, **settings.headers})

    def ask(
        self,
        url: URL,
        proxy: Proxy | None = None,
        extra: Outgoing | None = None,
        previous: Visit | None = None,
        identity: Identity | None = None,
    ) -> tuple[Transport, Ask]:
        """The transport for ``url`` and what to send: the job's headers (with the validators of
        the URL's last visit, in a re-crawl), the identity's headers, cookies (the identity's jar or
        the crawl's, the job's, then what the request hook set for this request), the proxy."""
        transport, impersonate = self._transports.choose(url)
        headers: CIMultiDict[str] = self.headers
        cookies = self._settings.cookies
        if previous is not None and previous.ok and (previous.etag or previous.last_modified):
            headers = CIMultiDict(self.headers)
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
        if identity is not None:
            headers = CIMultiDict({**headers, **identity.headers})
            if identity.impersonate is not None and transport.name == "curl":
                impersonate = identity.impersonate
        if extra is not None:
            headers = CIMultiDict({**headers, **extra.headers})
            if extra.cookies:
                cookies = {**cookies, **extra.cookies}
        jar = identity.jar if identity is not None else self._transports.jar
        return transport, Ask(url, headers, cookies, proxy, self._warc is not None, jar, impersonate)

    async def fetch(
        self,
        url: URL,
        pages: PageStore | None,
        proxy: Proxy | None = None,
        extra: Outgoing | None = None,
        previous: Visit | None = None,
        identity: Identity | None = None,
    ) -> Response:
        """GET ``url``; 2xx bodies go to a file of ``pages``. With ``previous`` (a re-crawl), the
        request is conditional, and a 304 or an identical body comes back ``unchanged`` with the
        page file untouched. Raises FetchError for transport failures."""
        self._guard(url)
        kept = await self._kept(previous, pages)
        transport, ask = self.ask(url, proxy, extra, previous if kept else None, identity)
        sent = asyncio.get_running_loop().time()
        try:
            async with transport.get(ask) as wire:
                response = await self._handle(wire, url, pages, proxy, previous, kept)
                response.transport, response.http_version = transport.name, wire.http_version
                return response
        except FetchError as e:
            raise blame(e, proxy, url, self._router.redact, sent) from None
        except Exception as e:  # every transport failure is classified; a bug of ours escapes
            failure = self._failed(transport, e, proxy)
            if failure is None:
                raise
            raise blame(failure, proxy, url, self._router.redact, sent) from None

    async def get_routed(self, url: URL, limit: int) -> tuple[int, bytes]:
        """Status and body of a small resource such as robots.txt (:meth:`send`), through the
        route the URL's host takes, reporting proxy health."""
        proxy = await self._router.acquire(url.host or "")
        failed, answered, nbytes = False, None, 0
        sent = asyncio.get_running_loop().time()
        try:
            small = await self.send(url, limit, proxy)
            answered, nbytes = (url, sent), len(small.body)
            return small.status, small.body
        except FetchError as e:
            failed = e.proxy_fault
            raise
        finally:
            if proxy is not None:
                self._router.release(proxy, failed=failed, nbytes=nbytes, answered=answered)

    async def send(
        self,
        url: URL,
        limit: int,
        proxy: Proxy | None = None,
        identity: Identity | None = None,
        form: Form | None = None,
    ) -> Small:
        """The answer (at most ``limit`` bytes of body) to a GET (robots.txt, a sitemap, a login
        page), or to the POST of ``form``, as ``identity`` when given; never archived (a login's
        exchanges carry credentials).

        Redirects are followed here, at most ``SMALL_REDIRECTS`` hops, each through the
        private-address guard (a POST goes on as a GET, except after a 307 or 308); a longer
        chain counts as "not found", as Google treats robots.txt.
        """
        sent = asyncio.get_running_loop().time()
        try:
            for _ in range(SMALL_REDIRECTS + 1):
                self._guard(url)
                transport, ask = self.ask(url, proxy, identity=identity)
                sent = asyncio.get_running_loop().time()
                ask = replace(ask, raw=False) if form is None else form.ask(ask)
                try:
                    async with transport.get(ask) as wire:
                        if proxy is not None and wire.status == 407:
                            raise self._router.credentials_rejected(proxy, wire.status)
                        if proxy is not None and (gone := forwarded_target(proxy, url, wire)):
                            raise gone
                        location = wire.headers.get("Location")
                        if 300 <= wire.status < 400 and location:
                            hop = join(url, location)  # a form goes on (307, 308) only within its origin
                            form = (
                                form
                                if form and wire.status in (307, 308) and form.page.origin() == hop.origin()
                                else None
                            )
                            url = hop
                            continue
                        body, _ = await self._read_capped(wire, limit, None)
                        return Small(wire.status, url, body, wire.headers.get("Content-Type"))
                except FetchError:
                    raise
                except Exception as e:
                    failure = self._failed(transport, e, proxy)
                    if failure is None:
                        raise
                    raise failure from None  # blamed below
            return Small(404, url, b"", None)
        except InvalidURL:
            return Small(404, url, b"", None)  # a redirect to a non-http(s) or malformed URL
        except FetchError as e:
            raise blame(e, proxy, url, self._router.redact, sent) from None

    async def close(self) -> None:
        await self._transports.close()

    def _guard(self, url: URL) -> None:
        """block_private_ips for IP-literal hosts (names are checked by the resolver)."""
        if self._settings.block_private_ips and literal_blocked(url.host or ""):
            raise FetchError(Kind.BLOCKED, f"{url.host} is not a public address (block_private_ips)")

    def _failed(self, transport: Transport, exc: Exception, proxy: Proxy | None) -> FetchError | None:
        """``exc`` classified (a proxy that refused our credentials disabled), or None when it is
        a bug of ours, which escapes."""
        failure = transport.failure(exc, proxy)
        if not isinstance(failure, Rejected):
            return failure
        if proxy is None:  # (only a proxy can reject our credentials)
            return FetchError(Kind.PROXY, f"credentials rejected ({failure.status})")
        return self._router.credentials_rejected(proxy, failure.status)

    @staticmethod
    async def _kept(previous: Visit | None, pages: PageStore | None) -> bool:
        """True when the last visit's page file is still there and whole, so a conditional request
        may keep it (a 304 points the record at it). A file deleted or edited since means a plain
        GET. Hashing it costs a read of the file on a pool thread, only for URLs that have
        validators: far less than fetching the page again, and a 304 is trusted only then."""
        if previous is None or not previous.ok or not (previous.etag or previous.last_modified):
            return False
        if pages is None:  # no page files: nothing to keep
            return True
        return (
            previous.path is not None
            and previous.digest is not None
            and await pages.holds(previous.path, previous.digest)
        )

    async def _handle(
        self,
        wire: Wire,
        url: URL,
        pages: PageStore | None,
        proxy: Proxy | None,
        previous: Visit | None,
        kept: bool,
    ) -> Response:
        status = wire.status
        ctype = wire.headers.get("Content-Type")
        if status == 304 and kept and previous is not None and previous.digest is not None:
            await self._drain(wire, archive=False)
            if self._warc is not None:
                await self._warc.revisit(wire.exchange(), previous.digest, previous.fetched_at)
            return Response(
                status, ctype, sha256=previous.digest, path=previous.path, headers=wire.headers, unchanged=True
            )
        if proxy is not None and (unreachable := forwarded_target(proxy, url, wire)) is not None:
            await self._drain(wire, archive=False)  # the proxy's own page, not the target's answer
            raise unreachable
        if proxy is not None and (status == 407 or status in self._settings.proxy_ban_status):
            await self._drain(wire, archive=not (status == 407 and forwards(proxy, url)))  # (the proxy's page)
            if status == 407:  # (tinyproxy answers a wrong password with a 401 like the target's own)
                raise self._router.credentials_rejected(proxy, status)
            raise ban_signal(proxy, f"status {status}")
        if (blocked := self._blocks.head(status, wire.headers)) is not None:
            await self._drain(wire)
            return Response(status, ctype, error=blocked_page(blocked))
        if 300 <= status < 400 and "Location" in wire.headers:
            await self._drain(wire)
            return Response(status, ctype, location=wire.headers["Location"])
        if not 200 <= status < 300:
            body = await self._drain(wire)
            if (blocked := self._blocks.body(status, wire.headers, body)) is not None:
                return Response(status, ctype, error=blocked_page(blocked))
            error = status_error(
                status, f"{status} {wire.reason or ''}".strip(), wire.headers, self._settings.max_retry_after
            )
            return Response(status, ctype, error=error)
        declared = wire.content_length
        if declared is not None and declared > self._settings.max_bytes and not wire.headers.get("Content-Encoding"):
            raise FetchError(Kind.TOO_LARGE, f"Content-Length {declared} exceeds max_bytes {self._settings.max_bytes}")
        is_html = is_page(ctype, markdown=self._settings.markdown_pages)
        page = pages.open(url) if pages is not None else None
        digest = hashlib.sha256()  # fed only without a page file, which hashes where it is placed
        raw: list[bytes] | None = [] if self._warc is not None else None
        try:
            body, size = await self._read_capped(
                wire,
                self._settings.max_bytes,
                page,
                digest if page is None else None,
                keep=self._settings.parse_cap if is_html else 0,
                raw=raw,
            )
            if proxy is not None and self._ban_body is not None and self._ban_body.search(body):
                raise ban_signal(proxy, "body matches proxy_ban_body")
            known = previous.digest if previous is not None and previous.ok else None
            path, placement = await self._store(page, body, size, known, is_html)
            sha256 = (page.sha256 or None) if page is not None else digest.hexdigest()  # None: the parser hashes it
        except BaseException:
            if page is not None:
                await page.discard()
            raise
        unchanged = known is not None and sha256 == known  # (a handed-over body has no sha256 yet)
        if unchanged and placement is not None and pages is not None:  # not parsed, so placed here
            (path, sha256), placement = await pages.place(placement), None
        if raw is not None and self._warc is not None:
            if unchanged and previous is not None and known is not None:
                await self._warc.revisit(wire.exchange(), known, previous.fetched_at)
            else:
                await self._warc.write(wire.exchange(), b"".join(raw))
        return Response(
            status,
            ctype,
            nbytes=size,
            sha256=sha256,
            path=path,
            body=body if is_html else None,
            headers=wire.headers,
            unchanged=unchanged,
            placement=placement,
        )

    async def _store(
        self, page: PageFile | None, body: bytes, size: int, known: str | None, is_html: bool
    ) -> tuple[str | None, Placement | None]:
        """The body's place under OUT (``pages/...``) now, or its placement for the parser,
        which is sent the whole body anyway (an HTML page within ``max_parse_bytes``, held in memory)."""
        if page is None:
            return None, None
        if is_html and size <= self._settings.parse_cap and not page.spilled:
            return None, page.hand_over(known, body)
        return await page.commit(unless=known), None

    async def _read_capped(
        self,
        wire: Wire,
        limit: int,
        page: PageFile | None,
        digest: Any = None,
        keep: int | None = None,
        raw: list[bytes] | None = None,
    ) -> tuple[bytes, int]:
        """Stream the decoded body; raise TOO_LARGE past ``limit``.

        Returns the first ``keep`` bytes (all of it by default) and the full decoded size. A wire
        that gives the bytes as received (WARC, or curl) is decoded here; with ``raw`` those bytes
        are also appended to ``raw``.
        """
        keep = limit if keep is None else keep
        decoder = BodyDecoder(wire.headers.get("Content-Encoding")) if wire.raw else None
        kept: list[bytes] = []
        size = kept_size = received = 0

        async def take(chunk: bytes) -> None:
            nonlocal size, kept_size
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

        async for chunk in wire.chunks():
            if decoder is not None:
                received += len(chunk)
                if received > limit:
                    raise FetchError(Kind.TOO_LARGE, f"body exceeds {limit} bytes")
                if raw is not None:
                    raw.append(chunk)
                chunk = decoder.feed(chunk, limit - size)
            await take(chunk)
        if decoder is not None:
            await take(decoder.finish())
        return b"".join(kept), size

    async def _drain(self, wire: Wire, *, archive: bool = True) -> bytes:
        """Read a small unwanted body so the connection can be reused (and archive it when whole);
        close the connection instead if the body is big. Returns the body read, decoded (b"" if none)."""
        if wire.content_length is not None and wire.content_length > DRAIN:
            wire.abort()
            return b""
        chunks, read = [], 0
        async for chunk in wire.chunks():
            read += len(chunk)
            if read > DRAIN:
                wire.abort()
                return b""
            chunks.append(chunk)
        body = b"".join(chunks)
        if self._warc is not None and archive:
            await self._warc.write(wire.exchange(), body)
        return decoded(body, wire.headers.get("Content-Encoding"), DRAIN * 16) if wire.raw else body
