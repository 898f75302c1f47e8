"""A rendered page's proxy, as the browser takes it and as the browser reports on it.

Chromium names its network failures (``net::ERR_…``) where the fetcher sees a proxy's answer,
so a rendered page's failure through a proxy is read here into the fetched path's terms
(:mod:`crawler.net.proxy_blame` then decides whose fault it is, with the same rules):

- ``ERR_PROXY_CONNECTION_FAILED``: the proxy did not take the connection: the proxy's.
- ``ERR_TUNNEL_CONNECTION_FAILED`` (an HTTP proxy answered CONNECT with an error) and
  ``ERR_SOCKS_CONNECTION_FAILED`` (a SOCKS proxy's failure reply): the proxy reports the target
  unreachable. Chromium does not say why; a proxy refusing the tunnel for a reason of its own
  looks the same, so the uplink rule blames the proxy once several targets in a row fail so.
- ``ERR_INVALID_AUTH_CREDENTIALS``: the proxy rejected our credentials.
- A plain ``http://`` page through an HTTP proxy is the proxy's answer: tinyproxy's or Squid's
  page saying it could not reach the target is that target's error, never the page.

Chromium does not speak SOCKS5 with credentials: such a proxy is refused before any request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.proxy_blame import SQUID_ERROR, forwarded_answer, unreachable

if TYPE_CHECKING:
    from playwright.async_api import ProxySettings
    from playwright.async_api import Response as BrowserResponse

    from crawler.net.proxies import Proxy

NET_ERROR = re.compile(r"\bnet::(ERR_[A-Z0-9_]+)")
PROXY_DOWN = frozenset({"ERR_PROXY_CONNECTION_FAILED", "ERR_PROXY_CERTIFICATE_INVALID", "ERR_NO_SUPPORTED_PROXIES"})
TARGET_UNREACHABLE = frozenset(
    {"ERR_TUNNEL_CONNECTION_FAILED", "ERR_SOCKS_CONNECTION_FAILED", "ERR_SOCKS_CONNECTION_HOST_UNREACHABLE"}
)
CREDENTIALS = frozenset({"ERR_INVALID_AUTH_CREDENTIALS", "ERR_PROXY_AUTH_UNSUPPORTED"})


class ProxyCredentialsRejected(Exception):
    """The proxy refused our credentials (``reason``): it is taken out of the crawl."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def browser_proxy(proxy: Proxy | None) -> ProxySettings | None:
    """A proxy as Playwright takes it (credentials apart from the server)."""
    if proxy is None:
        return None
    u = URL(proxy.url)
    settings: ProxySettings = {"server": f"{u.scheme}://{u.host}:{u.port}"}
    if u.user:
        settings["username"] = u.user
        settings["password"] = u.password or ""
    return settings


def unusable(proxy: Proxy | None) -> str | None:
    """Why the browser cannot go through ``proxy`` at all (None: it can)."""
    if proxy is not None and proxy.is_socks and URL(proxy.url).user:
        return f"the browser cannot use {proxy.id}: Chromium does not support SOCKS5 with credentials"
    return None


def browser_failure(text: str, proxy: Proxy) -> FetchError | None:
    """The browser's failure ``text`` of a page loaded through ``proxy`` as the fetched path's
    error (unblamed: :func:`~crawler.net.proxy_blame.blame` decides whose it is); None when it is
    not about the proxy or the target's connection. Raises ProxyCredentialsRejected."""
    found = NET_ERROR.search(text)
    code = found.group(1) if found else ""
    if code in PROXY_DOWN:
        return FetchError(Kind.PROXY, f"cannot connect to proxy {proxy.id} (the browser: net::{code})", retryable=True)
    if code in TARGET_UNREACHABLE:
        return unreachable(f"net::{code} (the browser does not say why)")
    if code in CREDENTIALS:
        raise ProxyCredentialsRejected(f"net::{code}")
    return None


async def forwarded_page(proxy: Proxy, url: URL, answer: BrowserResponse) -> FetchError | None:
    """The target's error when the browser's ``answer`` to a plain ``http://`` page is the HTTP
    proxy's own page saying it could not reach it (see :func:`~crawler.net.proxy_blame.forwarded_target`)."""
    if proxy.is_socks or url.scheme != "http" or answer.status < 500:
        return None
    squid = await answer.header_value(SQUID_ERROR)
    return forwarded_answer(proxy, URL(answer.url, encoded=True), answer.status, answer.status_text, squid)
