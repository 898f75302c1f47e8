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
  401 answer it is the page's 401 (a site's login page), as a fetch has it. With no proxy, a 407
  is the site's own (``ERR_UNEXPECTED_PROXY_AUTH``, no answer seen): the page's 407.
- ``proxy_ban_status`` is read on every answer of the main frame (its redirects, the document's,
  a script's navigation; also when its page never finishes loading), ``proxy_ban_body`` on an
  HTML document's body as received (:func:`banned_body`), not on the DOM its scripts made: the
  proxy is banned, as by the fetcher.
- A plain ``http://`` page through an HTTP proxy is the proxy's answer: tinyproxy's or Squid's
  page saying it could not reach the target is that target's error, never the page.
- The page's own connection (``NET_KINDS``: a name not resolved, a port refused, a reset, a
  certificate): the fetch's kinds, ``dns``, ``connect``, ``timeout``, ``aborted``, ``tls``…,
  retried as a fetch's. Through a proxy, :func:`~crawler.net.proxy_blame.blame` then decides
  whose they are. Under the crawl's guard every connection failure reads
  ``ERR_SOCKS_CONNECTION_FAILED``: the guard names it (:meth:`~crawler.net.guard.BrowserGuard.blame`).

Chromium does not speak SOCKS with credentials: such a proxy is refused before any request.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
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
SITES_PROXY_AUTH = "ERR_UNEXPECTED_PROXY_AUTH"  # a 407 from a site reached directly: no answer is seen
# Chromium's failures of a page's connection (net/base/net_error_list.h) as a fetch's: code →
# (kind, retryable, the words a fetch's message starts with). Every ERR_CERT_… and ERR_SSL_… is
# ``TLS_FAILED``. Not listed (the page's ``render`` error, not retried): what only a browser does
# (ERR_ABORTED: a navigation replaced, ERR_BLOCKED_BY_CLIENT: our scope rules) or runs out of.
TLS_FAILED = (Kind.TLS, False, "TLS failed")
TLS_PREFIXES = ("ERR_CERT_", "ERR_SSL_", "ERR_CERTIFICATE_")
NET_KINDS: dict[str, tuple[Kind, bool, str]] = {
    # Chromium folds every failed lookup (none such, SERVFAIL, a timeout) into this one: retried,
    # as curl's COULDNT_RESOLVE_HOST is
    "ERR_NAME_NOT_RESOLVED": (Kind.DNS, True, "cannot resolve host"),
    "ERR_CONNECTION_REFUSED": (Kind.CONNECT, True, "cannot connect: connection refused"),
    "ERR_CONNECTION_FAILED": (Kind.CONNECT, True, "cannot connect"),
    "ERR_ADDRESS_UNREACHABLE": (Kind.CONNECT, True, "cannot connect: address unreachable"),
    "ERR_INTERNET_DISCONNECTED": (Kind.CONNECT, True, "cannot connect: no network"),
    "ERR_NETWORK_CHANGED": (Kind.CONNECT, True, "cannot connect: the network changed"),
    "ERR_CONNECTION_TIMED_OUT": (Kind.TIMEOUT, True, "timed out connecting"),
    "ERR_TIMED_OUT": (Kind.TIMEOUT, True, "timed out"),
    "ERR_CONNECTION_RESET": (Kind.ABORTED, True, "connection lost: reset"),
    "ERR_CONNECTION_CLOSED": (Kind.ABORTED, True, "connection lost"),
    "ERR_CONNECTION_ABORTED": (Kind.ABORTED, True, "connection lost"),
    "ERR_EMPTY_RESPONSE": (Kind.ABORTED, True, "connection lost: no answer"),
    "ERR_CONTENT_LENGTH_MISMATCH": (Kind.ABORTED, True, "body cut short"),
    "ERR_INCOMPLETE_CHUNKED_ENCODING": (Kind.ABORTED, True, "body cut short"),
    "ERR_CONTENT_DECODING_FAILED": (Kind.DECODE, False, "cannot decode body"),
    "ERR_INVALID_HTTP_RESPONSE": (Kind.PROTOCOL, False, "bad response"),
    "ERR_RESPONSE_HEADERS_TOO_BIG": (Kind.PROTOCOL, False, "bad response: headers too big"),
    "ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH": (Kind.PROTOCOL, False, "bad response"),
    "ERR_HTTP2_PROTOCOL_ERROR": (Kind.PROTOCOL, True, "HTTP/2 failed"),
    "ERR_QUIC_PROTOCOL_ERROR": (Kind.PROTOCOL, True, "HTTP/3 failed"),
    "ERR_TOO_MANY_REDIRECTS": (Kind.REDIRECT, False, "too many redirects"),
    "ERR_BAD_SSL_CLIENT_AUTH_CERT": TLS_FAILED,
}
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
    if proxy is not None and not proxy.browser_usable:
        return f"the browser cannot use {proxy.id}: Chromium does not support SOCKS proxies with credentials"
    return None


def net_error(text: str) -> str:
    """Chromium's error code in a browser failure's ``text`` ("" when it names none)."""
    found = NET_ERROR.search(text)
    return found.group(1) if found else ""


def browser_failure(code: str, proxy: Proxy | None) -> FetchError | None:
    """The browser's failure ``code`` of a page loaded through ``proxy`` (or none) as the fetched
    path's error (unblamed: :func:`~crawler.net.proxy_blame.blame` decides whose it is); None when
    it is not about the proxy or the page's connection (``CREDENTIALS``: the router disables the proxy)."""
    if proxy is not None and code in PROXY_DOWN:
        return FetchError(Kind.PROXY, f"cannot connect to proxy {proxy.id} (the browser: net::{code})", retryable=True)
    if code in TARGET_UNREACHABLE:
        if proxy is None:  # the crawl's guard, which had no reason to give (see BrowserGuard.blame)
            return FetchError(Kind.CONNECT, f"cannot connect (through the guard: net::{code})", retryable=True)
        return unreachable(f"net::{code} (the browser does not say why)")
    said = NET_KINDS.get(code, TLS_FAILED if code.startswith(TLS_PREFIXES) else None)
    if said is None:
        return None
    kind, retryable, words = said
    return FetchError(kind, f"{words} (the browser: net::{code})", retryable=retryable)


def render_error(text: str, redact: Callable[[str], str]) -> FetchError:
    """The browser's own failure (``text``, its words) on a page: ``render``, not retried."""
    return FetchError(Kind.RENDER, redact(f"the browser failed on the page: {text.splitlines()[0][:300]}"))


async def banned_body(answer: BrowserResponse, pattern: re.Pattern[bytes], limit: int) -> bool:
    """Whether the HTML document's ``answer`` (a 2xx, as the fetcher reads only those) matches
    ``proxy_ban_body``: the body as received, not the DOM its scripts made; its first ``limit`` bytes
    are searched (what the fetcher keeps to parse: ``max_parse_bytes``, at most ``max_bytes``)."""
    return pattern.search(memoryview(await received(answer) or b"")[:limit]) is not None


async def received(answer: BrowserResponse, within: float | None = None) -> bytes | None:
    """The body of ``answer`` as the browser received it; None when the browser has none whole: it
    keeps none, the connection broke, or (``within`` seconds given) it is not all in by then."""
    from playwright.async_api import Error

    try:
        async with asyncio.timeout(within):
            return await answer.body()
    except (Error, TimeoutError):
        return None


def forwarded_page(proxy: Proxy, answer: BrowserResponse) -> TargetUnreachable | None:
    """The target's error when the browser's ``answer`` to a plain ``http://`` page (or to one of
    its hops) is the HTTP proxy's own page saying it could not reach it (see
    :func:`~crawler.net.proxy_blame.forwarded_target`). From the headers the answer came with:
    awaiting its raw headers could wait past the page's time."""
    if answer.status < 500:
        return None
    url = URL(answer.url, encoded=True)
    squid = answer.headers.get(SQUID_ERROR.lower())  # (Playwright lower-cases their names)
    error = forwarded_answer(proxy, url, answer.status, answer.status_text, squid)
    return None if error is None else TargetUnreachable(error, url)
