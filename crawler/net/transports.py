"""Which transport fetches a URL: the job's (``transport:``), or the first ``transport_rules``
entry whose pattern matches it. curl is started on first use, so a crawl that never asks for it
never imports curl_cffi."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from yarl import URL

from crawler.core.errors import ConfigError
from crawler.core.urls import url_pattern
from crawler.net.wire import Transport

if TYPE_CHECKING:
    from crawler.net.session import FetchSettings


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

    @property
    def uses_curl(self) -> bool:
        return self.transport == "curl" or any(r.transport == "curl" for r in self.rules)


class Transports:
    """The crawl's transports, and the choice between them per URL."""

    def __init__(
        self, settings: TransportSettings, default: Transport, make_curl: Callable[[], Transport] | None = None
    ) -> None:
        self._settings = settings
        self._aiohttp = default
        self._make_curl = make_curl
        self._curl: Transport | None = None
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


def curl_ready(settings: FetchSettings) -> FetchSettings:
    """``settings`` with curl's names for the browser targets, checked before the crawl starts:
    one readable line when curl_cffi is missing or does not know a target."""
    chosen = settings.transports
    if not chosen.uses_curl:
        return settings
    try:
        from crawler.net.curl import browser
    except ImportError:
        raise ConfigError("transport: curl needs curl_cffi: pip install 'crawler[curl]'") from None
    try:
        chosen = replace(
            chosen,
            impersonate=browser(chosen.impersonate),
            rules=tuple(replace(r, impersonate=browser(r.impersonate)) for r in chosen.rules),
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return replace(settings, transports=chosen)
