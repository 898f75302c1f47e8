"""The default transport: the crawl's one aiohttp session (plus one per SOCKS proxy).

HTTP/1.1, Python's TLS; the fastest way to fetch sites that do not look at who is asking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.core.exchange import Exchange
from crawler.net.failures import classify, is_transport
from crawler.net.proxies import Proxy
from crawler.net.resolver import CrawlResolver
from crawler.net.session import FetchSettings, make_session
from crawler.net.wire import Ask, Rejected

CHUNK = 1 << 16


class AiohttpWire:
    """An aiohttp response as the fetcher reads it."""

    __slots__ = ("_resp", "headers", "http_version", "raw", "reason", "status")

    def __init__(self, resp: aiohttp.ClientResponse, raw: bool) -> None:
        self._resp = resp
        self.status = resp.status
        self.reason = resp.reason or ""
        self.headers: CIMultiDictProxy[str] = resp.headers
        version = resp.version
        self.http_version = f"{version.major}.{version.minor}" if version else "1.1"
        self.raw = raw

    @property
    def content_length(self) -> int | None:
        return self._resp.content_length

    def chunks(self) -> AsyncIterator[bytes]:
        return self._resp.content.iter_chunked(CHUNK)

    def exchange(self) -> Exchange:
        resp, info = self._resp, self._resp.request_info
        return Exchange(
            str(resp.url),
            info.method,
            info.url.raw_host or "",
            info.url.raw_path_qs or "/",
            list(info.headers.items()),
            resp.status,
            self.reason,
            f"HTTP/{self.http_version}",
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers],
        )

    def abort(self) -> None:
        self._resp.close()


class AiohttpTransport:
    """Requests on the crawl's session; SOCKS proxies get a session each (HTTP proxies go per request)."""

    name = "aiohttp"

    def __init__(self, session: aiohttp.ClientSession, settings: FetchSettings, resolver: CrawlResolver) -> None:
        self._session = session
        self._settings = settings
        self._resolver = resolver  # the crawl's, for the sessions of SOCKS proxies too
        self._socks: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def get(self, ask: Ask) -> AsyncIterator[AiohttpWire]:
        kw: dict[str, Any] = {"headers": ask.sent_headers(), "allow_redirects": False}
        if ask.proxy is not None and not ask.proxy.is_socks:
            kw["proxy"] = ask.proxy.url
        if ask.raw:  # keep the bytes as received; the fetcher decodes them
            kw["auto_decompress"] = False
        if ask.body is not None:
            kw["data"] = ask.body
        async with self._session_for(ask.proxy).request(ask.method, ask.url, **kw) as resp:
            ask.jar.update(ask.url, resp.headers.getall("Set-Cookie", ()))  # (the sessions keep none)
            yield AiohttpWire(resp, ask.raw)

    def failure(self, exc: BaseException, proxy: Proxy | None) -> FetchError | Rejected | None:
        if not is_transport(exc):
            return None
        if proxy is not None and isinstance(exc, aiohttp.ClientHttpProxyError) and exc.status == 407:
            return Rejected(407)
        if proxy is not None and _tls_with_proxy(exc, proxy):
            return FetchError(Kind.PROXY, f"TLS with proxy {proxy.id} failed: {exc}", retryable=True)
        return classify(exc)

    async def close(self) -> None:
        for session in self._socks.values():
            await session.close()

    def _session_for(self, proxy: Proxy | None) -> aiohttp.ClientSession:
        if proxy is None or not proxy.is_socks:
            return self._session
        session = self._socks.get(proxy.url)  # by URL: a hook may choose one server with other credentials
        if session is None:
            session = self._socks[proxy.url] = make_session(self._settings, self._resolver, proxy)
        return session


def _tls_with_proxy(exc: BaseException, proxy: Proxy) -> bool:
    """A TLS failure on the connection to an ``https://`` proxy itself, not to the target: the
    proxy's fault (its certificate), so the proxy cools down and another one is tried."""
    if proxy.scheme != "https" or not isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return False
    where = URL(proxy.id)
    return (exc.host, exc.port) == (where.host, where.port)
