"""URLs as a browser reads them, the crawl's dedup key, and crawl scope.

Two forms, kept apart:

* **the browser's URL** (``resolve``, ``join``, ``parse_seed``): the WHATWG URL standard, through
  ada (the parser of Node.js): backslashes are slashes, tabs and newlines inside an href vanish,
  ``%`` stays as written, spaces in a query become ``%20``, hosts are lower-cased and IDNA-encoded,
  default ports and dot segments (``%2e`` too) go, exactly as in a browser. The fragment is dropped.
  This is the URL that is requested (byte for byte, but for an empty query: the HTTP client cannot
  send a bare ``?``), recorded and matched by the job's rules.
* **the dedup key** (``dedup_key``), a step on top used only to decide "seen before": hex digits of
  percent escapes upper-cased, escaped unreserved characters (letters, digits, ``-._~``) decoded,
  and an empty query dropped. So ``/a%7e``, ``/a%7E`` and ``/a~`` are one page, and so are ``/a?``
  and ``/a`` (the bare path is the form servers expect); the first one met is the one requested.
  A host's root has its ``/`` in the browser's URL already: ``http://a`` is ``http://a/``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from ada_url import idna_to_ascii, join_url, normalize_url
from yarl import URL

from crawler.core.errors import InvalidURL

SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")  # "mailto:x" has one; "host:8080/" has not
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
C0_SPACE = "".join(map(chr, range(0x21)))  # what a browser strips from both ends of an href
DEFAULT_PORTS = {"http": "80", "https": "443"}


class Parts(NamedTuple):
    """A browser URL (without fragment) with the parts the crawl routes by, as plain strings."""

    text: str
    scheme: str
    host: str  # as yarl showed it (IDNA decoded, IPv6 without brackets): host keys stay as before
    key: str  # host key: host and port


def resolve(href: str, base: str | None = None) -> str:
    """The browser's URL for ``href`` (against ``base``), without its fragment. InvalidURL where a
    browser fails, or for a URL the crawl cannot fetch (not http(s))."""
    return split(href, base).text


def split(href: str, base: str | None = None) -> Parts:
    """``resolve`` with the URL's parts."""
    try:
        text = join_url(base, href) if base is not None else normalize_url(href)
    except ValueError:
        usv = href.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # as a browser's DOM
        if usv != href:
            return split(usv, base)
        raise InvalidURL("not a valid URL (a browser would not open it)") from None
    scheme, sep, rest = text.partition("://")
    if scheme not in SCHEMES or not sep:
        raise InvalidURL(f"unsupported scheme {text.partition(':')[0]!r}")
    text = text.partition("#")[0]  # a '#' only appears in a serialised URL as its fragment's start
    authority = rest[: rest.find("/")].rpartition("@")[2]
    host, colon, port = authority.rpartition(":")
    if not colon or authority.endswith("]"):
        host, port = authority, DEFAULT_PORTS[scheme]
    if host.startswith("["):
        host = host[1:-1]
    elif "xn--" in host:
        host = _unicode_host(host)
    return Parts(text, scheme, host, f"{host}:{port}")


def _unicode_host(host: str) -> str:
    """The host as yarl showed it (IDNA decoded); InvalidURL for an ``xn--`` label that is not the
    ASCII form of a valid name, which a browser refuses (UTS #46) and ada lets through."""
    labels = host.split(".")
    for i, label in enumerate(labels):
        if label.startswith("xn--"):
            try:
                name = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                name = ""
            if not name or idna_to_ascii(name) != label.encode():
                raise InvalidURL(f"host {host!r} is not valid IDNA")
            labels[i] = name
    return ".".join(labels)


def join(base: URL | str, href: str) -> URL:
    """``resolve`` as a yarl URL that keeps the browser's text (for callers that want its parts)."""
    return URL(resolve(href, str(base)), encoded=True)


def parse_seed(text: str) -> URL:
    """A user-given start URL as the browser's URL (``example.org`` gets ``http://``)."""
    text = text.strip(C0_SPACE)
    if "://" not in text and not _SCHEME.match(text):
        text = "http://" + text
    try:
        return URL(resolve(text), encoded=True)
    except InvalidURL as e:
        raise InvalidURL(f"{text!r}: {e}") from None


def dedup_key(url: str) -> str:
    """The form in which the crawl remembers a browser URL as seen (see the module's docstring);
    never requested."""
    if "%" in url:
        url = _ESCAPE.sub(_normal_escape, url)
    return url[:-1] if url.endswith("?") else url


def legacy_keys(url: str) -> set[str]:
    """The dedup keys the crawler may have had for a browser URL before it read URLs as a browser
    does (yarl's RFC 3986 forms: ``%`` as ``%25``, a space in a query as ``+``), other than its
    key now: job state saved then is read with both."""
    try:
        old = dedup_key(str(URL(url)))
    except ValueError:
        return set()
    path, query, rest = old.partition("?")
    keys = {old, path + query + rest.replace("%20", "+")}
    keys.discard(dedup_key(url))
    return keys


def _normal_escape(m: re.Match[str]) -> str:
    char = chr(int(m.group()[1:], 16))
    return char if char in _UNRESERVED else m.group().upper()


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

    def __init__(
        self,
        seeds: Iterable[str],
        allow_domains: Iterable[str] = (),
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        max_depth: int | None = None,
    ) -> None:
        self._domains = tuple(allow_domains)
        self._hosts = frozenset() if self._domains else frozenset(URL(s, encoded=True).host for s in seeds)
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
