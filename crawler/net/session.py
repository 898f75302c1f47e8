"""The HTTP session and what the fetcher sends and accepts: :class:`FetchSettings`, read by both."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_socks
from yarl import URL

from crawler.core.blocked import BlockRules
from crawler.core.usage import DnsUse
from crawler.net.dns import DnsSettings
from crawler.net.proxies import Proxy
from crawler.net.resolver import CrawlResolver
from crawler.net.sockets import BoundedConnector
from crawler.net.transports import TransportSettings


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How the session connects and what the fetcher sends, keeps and calls a ban."""

    user_agent: str
    headers: Mapping[str, str] = field(repr=False)  # may hold tokens: never in a repr
    cookies: Mapping[str, str] = field(repr=False)  # may hold tokens: never in a repr
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    concurrency: int  # connections in all
    per_host: int  # idle connections kept per host
    pins: Mapping[tuple[str, int], str]  # --resolve: (host, port) → address
    block_private_ips: bool
    dns: DnsSettings
    trust_env: bool
    insecure: bool
    ca_bundle: Path | None
    max_bytes: int
    parse_cap: int  # bytes of an HTML page kept to parse (max_parse_bytes, within max_bytes)
    max_retry_after: float
    proxy_ban_status: frozenset[int]
    proxy_ban_body: str | None  # a regex
    user_agent_set: bool = True  # the job named its User-Agent (else a browser target sends the browser's)
    markdown_pages: bool = False  # prefer_markdown: a text/markdown answer is a page to parse, like HTML
    transports: TransportSettings = field(default_factory=TransportSettings)  # aiohttp, or curl per job or URL pattern
    blocked: BlockRules = field(default_factory=BlockRules)  # blocked_when: what the head or an error page shows


def make_resolver(settings: FetchSettings, use: DnsUse | None = None) -> CrawlResolver:
    """The crawl's resolver (pins, cache, lookups, guard), shared by all its sessions; its owner
    closes it after them."""
    return CrawlResolver(settings.pins, settings.block_private_ips, settings.dns, use=use)


def make_session(
    settings: FetchSettings, resolver: CrawlResolver, proxy: Proxy | None = None, *, idle: int | None = None
) -> aiohttp.ClientSession:
    """A session: the crawl's single one (``proxy`` None), or one per SOCKS proxy.

    HTTP(S) proxies go through the crawl's session per request; SOCKS needs a connector of its own.
    ``idle`` bounds the idle keep-alive sockets (see :mod:`crawler.net.sockets`). Names are cached
    by ``resolver`` (bounded, TTLs honoured), not by aiohttp's connector (unbounded).
    """
    kw: dict[str, Any] = {
        "limit": settings.concurrency,
        "limit_per_host": 0,
        "use_dns_cache": False,
        "resolver": resolver,
        "ssl": tls_context(settings),
    }
    if proxy is None and idle is not None:
        connector: aiohttp.TCPConnector = BoundedConnector(max_idle=idle, per_host=settings.per_host, **kw)
    elif proxy is None:
        connector = aiohttp.TCPConnector(**kw)
    else:
        url = URL(proxy.url)
        kind = aiohttp_socks.ProxyType.SOCKS4 if url.scheme == "socks4" else aiohttp_socks.ProxyType.SOCKS5
        connector = aiohttp_socks.ProxyConnector(  # host and port are checked by parse_proxy
            host=url.host or "",
            port=url.port or 0,
            proxy_type=kind,
            username=url.user,
            password=url.password,
            rdns=url.scheme == "socks5h",
            **kw,
        )
        if url.scheme != "socks5h":  # we resolve: the crawl's resolver (pins, guard), not the system's
            connector._resolver = resolver  # (aiohttp_socks puts a pass-through resolver there)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=settings.total_timeout, connect=settings.connect_timeout, sock_read=settings.read_timeout
        ),
        cookie_jar=aiohttp.DummyCookieJar(),  # cookies are the crawler's (crawler.net.cookies): Ask.jar
        raise_for_status=False,
        trust_env=settings.trust_env,
    )


def tls_context(settings: FetchSettings) -> ssl.SSLContext | bool:
    """Certificate checks as the job asks: on (default), off (``insecure``) or a private CA bundle."""
    if settings.insecure:
        return False
    if settings.ca_bundle:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return True
