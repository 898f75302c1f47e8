"""What a rendered page's failure means in the fetched path's terms, and its proxy as the browser
takes it.

Chromium names its failures (``net::ERR_…``) where the fetcher sees an answer, so they are read
here; :mod:`crawler.net.proxy_blame` then decides whose fault a failure through a proxy is, with
the fetcher's rules:

- ``ERR_PROXY_CONNECTION_FAILED``: the proxy did not take the connection: the proxy's.
- ``ERR_TUNNEL_CONNECTION_FAILED`` (an HTTP proxy answered CONNECT with an error) and
  ``ERR_SOCKS_CONNECTION_FAILED`` (a SOCKS proxy's failure reply): the proxy reports the target
  unreachable. Chromium does not say why; a proxy refusing the tunnel for a reason of its own
  looks the same, so the uplink rule blames the proxy once several targets in a row fail so.
- A 407 to the page's navigation (Chromium gives up on it, or shows it), or
  ``ERR_INVALID_AUTH_CREDENTIALS`` with no answer: the proxy rejected our credentials. With a
  401 answer it is the page's 401 (a site's login page), as a fetch has it.
- A plain ``http://`` page through an HTTP proxy is the proxy's answer: tinyproxy's or Squid's
  page saying it could not reach the target is that target's error, never the page.

Chromium does not speak SOCKS with credentials: such a proxy is refused before any request.
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
PROXY_DOWN = frozenset({"ERR_PROXY_CONNECTION_FAILED", "ERR_PROXY_CERTIFICATE_INVALID"})
TARGET_UNREACHABLE = frozenset(
    {"ERR_TUNNEL_CONNECTION_FAILED", "ERR_SOCKS_CONNECTION_FAILED", "ERR_SOCKS_CONNECTION_HOST_UNREACHABLE"}
)
CREDENTIALS = frozenset({"ERR_INVALID_AUTH_CREDENTIALS", "ERR_PROXY_AUTH_UNSUPPORTED"})
# Answers Chromium does not show, the status of the last one seen being the page's: an error status
# with an empty body, a login Playwright cancels (no credentials for the site).
NOT_SHOWN = frozenset({"ERR_HTTP_RESPONSE_CODE_FAILURE", *CREDENTIALS})
PROXY_AUTH = 407
BROWSER_SCHEME = {"socks5h": "socks5"}  # Chromium's socks5:// already leaves names to the proxy


class TargetUnreachable(Exception):
    """A proxy's page saying it could not reach ``url`` (after redirects, the last hop)."""

    def __init__(self, error: FetchError, url: URL) -> None:
        super().__init__(error.message)
        self.error = error
        self.url = url


def browser_proxy(proxy: Proxy | None) -> ProxySettings | None:
    """A proxy as Playwright takes it (credentials apart from the server)."""
    if proxy is None:
        return None
    u = URL(proxy.url)
    settings: ProxySettings = {"server": f"{BROWSER_SCHEME.get(u.scheme, u.scheme)}://{u.host}:{u.port}"}
    if u.user:
        settings["username"] = u.user
        settings["password"] = u.password or ""
    return settings


def unusable(proxy: Proxy | None) -> str | None:
    """Why the browser cannot go through ``proxy`` at all (None: it can)."""
    if proxy is not None and proxy.is_socks and URL(proxy.url).user:
        return f"the browser cannot use {proxy.id}: Chromium does not support SOCKS proxies with credentials"
    return None


def net_error(text: str) -> str:
    """Chromium's error code in a browser failure's ``text`` ("" when it names none)."""
    found = NET_ERROR.search(text)
    return found.group(1) if found else ""


def browser_failure(code: str, proxy: Proxy) -> FetchError | None:
    """The browser's failure ``code`` of a page loaded through ``proxy`` as the fetched path's
    error (unblamed: :func:`~crawler.net.proxy_blame.blame` decides whose it is); None when it is
    not about the proxy or the target's connection (``CREDENTIALS``: the router disables the proxy)."""
    if code in PROXY_DOWN:
        return FetchError(Kind.PROXY, f"cannot connect to proxy {proxy.id} (the browser: net::{code})", retryable=True)
    if code in TARGET_UNREACHABLE:
        return unreachable(f"net::{code} (the browser does not say why)")
    return None


async def forwarded_page(proxy: Proxy, answer: BrowserResponse) -> TargetUnreachable | None:
    """The target's error when the browser's ``answer`` to a plain ``http://`` page (the last hop
    of its redirects) is the HTTP proxy's own page saying it could not reach it (see
    :func:`~crawler.net.proxy_blame.forwarded_target`)."""
    if answer.status < 500:
        return None
    url = URL(answer.url, encoded=True)
    squid = await answer.header_value(SQUID_ERROR)
    error = forwarded_answer(proxy, url, answer.status, answer.status_text, squid)
    return None if error is None else TargetUnreachable(error, url)
