"""The curl transport (``transport: curl``): HTTP/2, and with ``impersonate`` a browser's TLS and
HTTP/2 fingerprint and headers, on curl_cffi's low-level API.

Why the low level: curl_cffi's ``AsyncSession`` costs twice aiohttp's CPU per page, while one
multi handle and easy handles kept with their options (set once per impersonation target) cost
less than aiohttp (benchmarks/results/2026-12-07-transport-study.md, section 7). Per request only
the URL, the headers, the proxy, the address pin and the callbacks are set.

Names are resolved by the crawl's resolver (cache, ``--resolve`` pins, ``block_private_ips``) and
curl is pinned to the checked address, so it connects nowhere the guard did not allow; the address
it did connect to is compared with the pin when the head arrives. Cookies are kept in the crawler's
own jar (:mod:`crawler.net.cookies`) the request brings: the crawl's, or its identity's. With
:mod:`crawler.net.curl_wire`, the only modules that import curl_cffi; only crawls that ask for curl
import them.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from curl_cffi import AsyncCurl, Curl, CurlHttpVersion, CurlInfo, CurlOpt
from curl_cffi.curl import CurlError
from yarl import URL

from crawler.core.errors import FetchError, Kind
from crawler.net.curl_failures import classify_curl
from crawler.net.curl_wire import CurlFailure, CurlWire
from crawler.net.failures import classify, classify_lookup, is_transport
from crawler.net.proxies import Proxy
from crawler.net.resolver import CrawlResolver, is_blocked
from crawler.net.session import FetchSettings
from crawler.net.wire import Ask, Rejected

LOCAL_DNS_PROXIES = frozenset({"socks5", "socks4"})  # schemes where we resolve the target's name


class CurlTransport:
    """Requests on one curl multi handle, with easy handles pooled per impersonation target."""

    name = "curl"

    def __init__(self, settings: FetchSettings, resolver: CrawlResolver) -> None:
        self._settings = settings
        self._resolver = resolver
        self._multi = AsyncCurl()
        self._idle: dict[str | None, list[Curl]] = {}
        self._accept_encoding = _accept_encoding()

    @asynccontextmanager
    async def get(self, ask: Ask) -> AsyncIterator[CurlWire]:
        proxy = ask.proxy.url if ask.proxy is not None else self._env_proxy(ask.url)
        pin = await self._pin(ask.url, ask.proxy.scheme if ask.proxy is not None else proxy)
        curl = self._take(ask.impersonate)
        sent = self._headers(ask)
        wire = CurlWire(curl, ask.url, sent, self._settings.max_bytes)
        self._prepare(curl, ask, sent, pin, proxy, wire)
        done = self._multi.add_handle(curl)
        done.add_done_callback(wire.on_done)
        try:
            await wire.started()
            if pin is not None and proxy is None and self._settings.block_private_ips:
                _check_connected(curl)
            self._keep_cookies(wire, ask)
            yield wire
        finally:
            if not done.done():
                self._multi.remove_handle(curl)
            curl.clean_handles_and_buffers()  # frees this request's header and pin lists
            self._idle.setdefault(ask.impersonate, []).append(curl)

    def failure(self, exc: BaseException, proxy: Proxy | None) -> FetchError | Rejected | None:
        if isinstance(exc, CurlFailure | CurlError):
            failure = exc if isinstance(exc, CurlFailure) else CurlFailure(int(exc.code), str(exc), 0, 0)
            return classify_curl(
                failure.code,
                failure.message,
                proxy_error=failure.proxy_error,
                connect_code=failure.connect_code,
                connect_reason=failure.connect_reason,
                connect_squid=failure.connect_squid,
                proxy_tls_verify=failure.proxy_tls,
                via_proxy=proxy is not None,
            )
        if isinstance(exc, LookupFailed):
            return classify_lookup(exc.error)
        if is_transport(exc):  # writing the page, decoding the body
            return classify(exc)
        return None

    async def close(self) -> None:
        await self._multi.close()  # type: ignore[no-untyped-call]
        for handles in self._idle.values():
            for curl in handles:
                curl.close()
        self._idle.clear()

    async def _pin(self, url: URL, proxy: str | None) -> str | None:
        """curl's RESOLVE entry (``host:port:address,...``: every address the crawl's resolver
        allowed, so a reused connection to one of them is fine), or None for IP literals (checked
        by the fetcher) and when the proxy (``proxy``: its scheme or URL) resolves the name."""
        host = url.raw_host or ""
        if (proxy is not None and proxy.partition(":")[0] not in LOCAL_DNS_PROXIES) or _is_literal(host):
            return None
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await self._resolver.resolve(host, port, socket.AF_UNSPEC)
        except OSError as e:
            raise LookupFailed(e) from None
        addresses = ",".join(f"[{a['host']}]" if ":" in a["host"] else a["host"] for a in found)
        return f"{host}:{port}:{addresses}"

    def _env_proxy(self, url: URL) -> str | None:
        """With ``trust_env``, the proxy the environment names for ``url`` (``*_proxy``,
        ``no_proxy``), chosen here so that curl itself never reads the environment."""
        if not self._settings.trust_env:
            return None
        host = url.raw_host or ""
        if urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
            return None
        return urllib.request.getproxies_environment().get(url.scheme)

    def _take(self, impersonate: str | None) -> Curl:
        idle = self._idle.get(impersonate)
        if idle:
            return idle.pop()
        return self._new(impersonate)

    def _new(self, impersonate: str | None) -> Curl:
        """An easy handle with the options every request of ``impersonate`` shares."""
        s = self._settings
        curl = Curl()
        if impersonate is not None and curl.impersonate(impersonate, default_headers=True) != 0:
            raise FetchError(Kind.PROTOCOL, f"curl cannot impersonate {impersonate!r}")
        curl.setopt(CurlOpt.HTTP_CONTENT_DECODING, 0)  # bytes as received: the fetcher decodes and caps
        curl.setopt(CurlOpt.FOLLOWLOCATION, 0)
        curl.setopt(CurlOpt.NOSIGNAL, 1)
        curl.setopt(CurlOpt.CONNECTTIMEOUT_MS, int(s.connect_timeout * 1000))
        curl.setopt(CurlOpt.TIMEOUT_MS, int(s.total_timeout * 1000))
        curl.setopt(CurlOpt.LOW_SPEED_LIMIT, 1)  # a read timeout: less than a byte a second for this long
        curl.setopt(CurlOpt.LOW_SPEED_TIME, max(1, round(s.read_timeout)))
        if s.insecure:
            curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
            curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
        elif s.ca_bundle is not None:
            curl.setopt(CurlOpt.CAINFO, str(s.ca_bundle))
            curl.setopt(CurlOpt.PROXY_CAINFO, str(s.ca_bundle))
        return curl

    def _headers(self, ask: Ask) -> list[tuple[str, str]]:
        """The job's headers (with a browser target, the browser's User-Agent unless the job set
        one), and the one Cookie header for the URL (:meth:`Ask.sent_headers`)."""
        headers = list(ask.sent_headers().items())
        if ask.impersonate is None:
            headers.append(("Accept-Encoding", self._accept_encoding))
        elif not self._settings.user_agent_set:  # the browser's own, as the TLS says (robots.txt keeps ours)
            headers = [(k, v) for k, v in headers if k.lower() != "user-agent"]
        return headers

    def _prepare(
        self, curl: Curl, ask: Ask, sent: list[tuple[str, str]], pin: str | None, proxy: str | None, wire: CurlWire
    ) -> None:
        """The options of this request; every one is set each time (the handle is reused)."""
        curl.setopt(CurlOpt.URL, str(ask.url))
        curl.setopt(CurlOpt.HTTPHEADER, [f"{k}: {v}".encode() for k, v in sent])
        if ask.body is not None:  # a login form: POST it (the handle goes back to GET below, next time)
            curl.setopt(CurlOpt.POSTFIELDSIZE, len(ask.body))
            curl.setopt(CurlOpt.POSTFIELDS, ask.body)
        else:
            curl.setopt(CurlOpt.HTTPGET, 1)
        curl.setopt(CurlOpt.RESOLVE, [pin] if pin is not None else [])
        curl.setopt(CurlOpt.PROXY, proxy or "")  # "": no proxy, whatever the environment says
        curl.setopt(CurlOpt.NOPROXY, "")  # (curl would read NO_PROXY itself and go around the proxy)
        curl.setopt(CurlOpt.HTTP_VERSION, self._http_version(ask.url, proxy))
        curl.setopt(CurlOpt.HEADERFUNCTION, wire.on_header)
        curl.setopt(CurlOpt.WRITEFUNCTION, wire.on_body)
        curl.setopt(CurlOpt.VERBOSE, 1 if ask.raw else 0)
        if ask.raw:  # a WARC: the request head as curl sent it, browser headers included
            curl.setopt(CurlOpt.DEBUGFUNCTION, wire.on_debug)

    def _http_version(self, url: URL, proxy: str | None) -> CurlHttpVersion:
        """http://: HTTP/1.1 (an impersonated curl would offer an h2c upgrade no browser sends);
        https://: HTTP/2, or with ``http3`` HTTP/3 first (QUIC cannot go through our proxies)."""
        if url.scheme != "https":
            return CurlHttpVersion.V1_1
        return CurlHttpVersion.V3 if self._settings.transports.http3 and proxy is None else CurlHttpVersion.V2TLS

    def _keep_cookies(self, wire: CurlWire, ask: Ask) -> None:
        values = wire.headers.getall("Set-Cookie", ())
        if values:
            ask.jar.update(ask.url, values)


def _check_connected(curl: Curl) -> None:
    """``block_private_ips``: the address curl connected to is a public one (it is one the
    resolver allowed, pinned: a private one would be a bug)."""
    got = curl.getinfo(CurlInfo.PRIMARY_IP)
    connected = got.decode() if isinstance(got, bytes) else str(got)
    if connected and is_blocked(connected):
        raise FetchError(Kind.BLOCKED, f"connected to {connected}, not a public address (block_private_ips)")


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _accept_encoding() -> str:
    """What the fetcher's BodyDecoder can decode (without impersonation; a browser target sends
    its own)."""
    codings = ["gzip", "deflate"]
    for module, coding in (("brotli", "br"), ("zstandard", "zstd")):
        try:
            __import__(module)
        except ImportError:
            continue
        codings.append(coding)
    return ", ".join(codings)


class LookupFailed(Exception):
    """The crawl's resolver refused or failed the target's name (told apart from a page write's
    OSError, which is ``storage``)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error
