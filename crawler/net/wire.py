"""What the fetcher asks of a transport: send one request, hand back the answer as a :class:`Wire`.

The fetcher keeps the policy (the private-address guard for IP literals, conditional requests,
ban signals, redirects returned, the capped streamed read, WARC); a transport only moves bytes.
Two exist: aiohttp (:mod:`crawler.net.over_aiohttp`, the default) and curl with a browser's TLS and
HTTP/2 fingerprint (:mod:`crawler.net.curl`, ``transport: curl``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from multidict import CIMultiDictProxy
from yarl import URL

from crawler.core.errors import FetchError
from crawler.core.exchange import Exchange
from crawler.net.cookies import Jar
from crawler.net.proxies import Proxy


class Wire(Protocol):
    """One answer being received: its head at once, its body as chunks."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    http_version: str  # "1.1", "2", "3"
    raw: bool  # the chunks are the bytes as received (the fetcher decodes them)

    @property
    def content_length(self) -> int | None: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk (each at most ~64 KiB)."""
        ...

    def exchange(self) -> Exchange:
        """The request as sent and the answer's head, for the WARC."""
        ...

    def abort(self) -> None:
        """Stop receiving: the connection is dropped rather than read to its end."""
        ...


@dataclass(frozen=True, slots=True)
class Ask:
    """One request as the fetcher wants it sent: a GET, or a login form's POST."""

    url: URL
    headers: Mapping[str, str]
    cookies: Mapping[str, str] | None  # besides what the cookie jar holds for the URL
    proxy: Proxy | None
    raw: bool  # keep the body as received (WARC): the fetcher decodes it
    jar: Jar  # the identity's, or the crawl's: the Cookie header comes from it, Set-Cookie goes into it
    impersonate: str | None = None  # a browser target (curl only)
    method: str = "GET"  # or "POST" (a login form), with ``body``
    body: bytes | None = None  # its Content-Type is in ``headers``

    def sent_headers(self) -> Mapping[str, str]:
        """``headers`` with the one ``Cookie`` header to send: a ``Cookie`` the job's headers set,
        then the jar's cookies for the URL, then ``cookies`` (the job's and the request hook's).
        One header, as RFC 6265 asks: many servers read only the first of two. Copied only then."""
        cookie = self.jar.header(self.url, self.cookies)
        if cookie is None:
            return self.headers
        headers = {k: v for k, v in self.headers.items() if k.lower() != "cookie"}
        own = [v for k, v in self.headers.items() if k.lower() == "cookie"]
        headers["Cookie"] = "; ".join([*own, cookie])
        return headers


@dataclass(frozen=True, slots=True)
class Form:
    """A form to POST (a login's), filled in on ``page``: sent as a browser sends it."""

    body: bytes  # application/x-www-form-urlencoded
    page: URL

    def ask(self, ask: Ask) -> Ask:
        headers = {
            **ask.headers,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": str(self.page.origin()),
            "Referer": str(self.page),
        }
        return replace(ask, raw=False, method="POST", body=self.body, headers=headers)


class Small(NamedTuple):
    """A small answer read whole (``Fetcher.send``): where the redirects ended, and the body."""

    status: int
    url: URL
    body: bytes
    content_type: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The proxy refused our credentials (``status``): waiting cannot fix that, the fetcher
    disables it."""

    status: int | str  # the HTTP proxy's answer (407, or tinyproxy's 401), or what a SOCKS proxy said


class Transport(Protocol):
    """Sends requests; knows its own failures."""

    name: str  # "aiohttp" or "curl": the record's ``transport``

    def get(self, ask: Ask) -> AbstractAsyncContextManager[Wire]:
        """The answer to ``ask``; its connection is released when the context exits."""
        ...

    def failure(self, exc: BaseException, proxy: Proxy | None) -> FetchError | Rejected | None:
        """``exc`` as a record's error, or None when it is not a network failure (a bug of ours)."""
        ...

    async def close(self) -> None: ...
