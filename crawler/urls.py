"""URL canonical form, joining and crawl scope.

yarl does the heavy lifting: it lowercases scheme and host, IDNA-encodes hosts, drops default
ports, resolves ``.``/``..`` and normalises percent-encoding. We add: fragment dropped, empty path
becomes ``/``, only http(s) with a host is crawlable.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

from yarl import URL

from crawler.errors import InvalidURL

SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")  # "mailto:x" has one; "host:8080/" has not


def canonical(url: URL) -> URL:
    """The form used for dedup and records. Raises InvalidURL for non-http(s) or hostless URLs."""
    if url.scheme not in SCHEMES:
        raise InvalidURL(f"unsupported scheme {url.scheme or '(none)'!r}")
    if not url.host:
        raise InvalidURL("no host")
    url = url.with_fragment(None)
    if url.raw_path == "/":  # yarl reports "/" for an empty path but prints none; make it explicit
        url = url.with_path("/", keep_query=True)
    return url


def parse_seed(text: str) -> URL:
    """A user-given start URL in canonical form (``example.org`` gets ``http://``)."""
    text = text.strip()
    if "://" not in text and not _SCHEME.match(text):
        text = "http://" + text
    try:
        url = URL(text)
        url.port  # noqa: B018 - raises ValueError for a bad port
    except (ValueError, TypeError) as e:
        raise InvalidURL(f"{text!r} is not a valid URL: {e}") from None
    try:
        return canonical(url)
    except InvalidURL as e:
        raise InvalidURL(f"{text!r}: {e}") from None


def join(base: URL, href: str) -> URL:
    """Resolve ``href`` against ``base`` into canonical form, or raise InvalidURL."""
    try:
        return canonical(base.join(URL(href)))
    except (ValueError, TypeError) as e:
        raise InvalidURL(str(e)) from None


def url_pattern(pattern: str) -> Callable[[str], object]:
    """A URL glob (``*/product/*``, the whole URL) or, after ``re:``, a regex searched in the URL."""
    if pattern.startswith("re:"):
        return re.compile(pattern[3:]).search
    return re.compile(fnmatch.translate(pattern)).fullmatch


def host_key(url: URL) -> str:
    """The unit of politeness: one host name and port (the *target*, never a proxy)."""
    return f"{url.host}:{url.port}"


class Scope:
    """Which URLs the crawl may visit: hosts or domains, include/exclude regexes, depth."""

    def __init__(self, seeds: Iterable[str], allow_domains: Iterable[str] = (),
                 include: Iterable[str] = (), exclude: Iterable[str] = (),
                 max_depth: int | None = None) -> None:
        self._domains = tuple(allow_domains)
        self._hosts = frozenset() if self._domains else frozenset(URL(s).host for s in seeds)
        self._include = [re.compile(p) for p in include]
        self._exclude = [re.compile(p) for p in exclude]
        self.max_depth = max_depth

    def allows_host(self, host: str | None) -> bool:
        if host is None:
            return False
        if self._hosts:
            return host in self._hosts
        return any(host == d or host.endswith("." + d) for d in self._domains)

    def allows(self, url: URL, depth: int = 0) -> bool:
        """True if ``url`` at ``depth`` is inside the crawl."""
        return self.allows_parts(url.scheme, url.host, str(url), depth)

    def allows_parts(self, scheme: str, host: str | None, text: str, depth: int = 0) -> bool:
        """``allows`` for a URL already taken apart (the parser's links are plain strings)."""
        if self.max_depth is not None and depth > self.max_depth:
            return False
        if scheme not in SCHEMES or not self.allows_host(host):
            return False
        if self._include and not any(p.search(text) for p in self._include):
            return False
        return not any(p.search(text) for p in self._exclude)
