"""Which transport fetches a URL: the job's (``transport:``), or the first ``transport_rules``
entry whose pattern matches it. curl is started on first use, so a crawl that never asks for it
never imports curl_cffi."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yarl import URL

from crawler.core.urls import url_pattern
from crawler.net.cookies import Jar
from crawler.net.wire import Transport


@dataclass(frozen=True, slots=True)
class TransportRule:
    """URLs matching ``pattern`` (a glob, or ``re:`` and a regex) go over ``transport``."""

    pattern: str
    transport: str  # "aiohttp" or "curl"
    impersonate: str | None = None


@dataclass(frozen=True, slots=True)
class TransportSettings:
    transport: str = "aiohttp"
    impersonate: str | None = None  # a browser target of curl's (chrome, chrome131, firefox, safari...)
    rules: tuple[TransportRule, ...] = ()
    http3: bool = False  # curl tries HTTP/3 (QUIC) first for https:// URLs without a proxy

    @property
    def uses_curl(self) -> bool:
        return self.transport == "curl" or any(r.transport == "curl" for r in self.rules)


class Transports:
    """The crawl's transports, the choice between them per URL, and the crawl's cookie jar: one
    for both transports (each identity brings its own), so a cookie set over one goes out over
    the other and is kept by the same rules. aiohttp's sessions keep none."""

    def __init__(
        self, settings: TransportSettings, default: Transport, make_curl: Callable[[], Transport] | None = None
    ) -> None:
        self._settings = settings
        self._aiohttp = default
        self._make_curl = make_curl
        self._curl: Transport | None = None
        self.jar = Jar()  # saved by a crawl alone (wiring.keep_jar); each worker of a shared job has its own
        self._rules = [(url_pattern(r.pattern), r) for r in settings.rules]
        self._fixed = None if self._rules else (self._by_name(settings.transport), settings.impersonate)

    def choose(self, url: URL) -> tuple[Transport, str | None]:
        """The transport for ``url`` and the browser it presents (curl only)."""
        if self._fixed is not None:
            return self._fixed
        text = str(url)
        for matches, rule in self._rules:
            if matches(text):
                return self._by_name(rule.transport), rule.impersonate or self._settings.impersonate
        return self._by_name(self._settings.transport), self._settings.impersonate

    def _by_name(self, name: str) -> Transport:
        if name != "curl":
            return self._aiohttp
        if self._curl is None:
            if self._make_curl is None:
                raise RuntimeError("this crawl was set up without the curl transport")
            self._curl = self._make_curl()
        return self._curl

    async def close(self) -> None:
        await self._aiohttp.close()
        if self._curl is not None:
            await self._curl.close()


def curl_missing() -> str | None:
    """Why curl cannot run here (curl_cffi not installed), or None."""
    try:
        import curl_cffi  # noqa: F401
    except ImportError:
        return "transport: curl needs curl_cffi: pip install 'crawler[curl]'"
    return None


def check_transports(transport: str, browsers: bool, curl_rules: bool, http3: bool) -> None:
    """The job's transport options fit together and can run here (ValueError: one line)."""
    if browsers and transport == "aiohttp":
        raise ValueError("impersonate needs transport: curl (aiohttp presents Python's own TLS)")
    if transport == "curl" and (missing := curl_missing()) is not None:
        raise ValueError(missing)
    if http3 and transport != "curl" and not curl_rules:
        raise ValueError("http3 needs transport: curl (aiohttp speaks HTTP/1.1)")


def browser(target: str) -> str:
    """curl's name for an impersonation target: ``chrome`` is the newest Chrome this curl_cffi
    knows (pin a version, e.g. ``chrome131``, for a fingerprint that does not move with upgrades).
    ValueError, one readable line, for a target curl does not know."""
    missing = curl_missing()
    if missing is not None:
        raise ValueError(missing)
    from curl_cffi.requests.impersonate import BrowserType, resolve_latest_browser_type

    name = resolve_latest_browser_type(target)  # type: ignore[no-untyped-call]
    if name not in {b.value for b in BrowserType}:
        some = "chrome, firefox, safari, edge, chrome131, firefox133, safari184"
        raise ValueError(f"curl does not know the browser {target!r} (e.g. {some})")
    return str(name)
