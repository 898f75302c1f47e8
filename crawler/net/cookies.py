"""The crawler's cookie jar: what one visitor's browser keeps (RFC 6265, with the Public Suffix
List as browsers read it), as plain data. Each identity has one; a crawl without identities has
one for the crawl (:class:`~crawler.net.transports.Transports`).

Why not the transports' jars: cookies are the crawler's, not a connection's, so both transports
send the same ``Cookie`` header from the same jar, and a jar is a list of values that a
checkpoint writes to ``state.sqlite`` and a shared job keeps in Redis (an identity's).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

from publicsuffixlist import PublicSuffixList
from yarl import URL

MAX_COOKIES = 3000  # per jar; the oldest go first (Chrome keeps as many in all)
MAX_PER_DOMAIN = 180  # per domain a cookie is kept for, as Chrome: one site cannot push out the others'
MAX_COOKIE = 4096  # bytes of name and value; a longer cookie is ignored, as browsers do
MAX_AGE = 400 * 24 * 3600  # the longest life a cookie gets (RFC 6265bis, as browsers)
_SECONDS = re.compile(r"-?[0-9]+")  # Max-Age: ASCII digits only ("²" is a digit to str.isdigit)


@dataclass(slots=True)
class Cookie:
    """One cookie as kept: ``domain`` is where it was set (``host_only``: that host alone)."""

    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool
    expires: float | None  # wall-clock seconds; None: until the crawl forgets the identity


class Jar:
    """The cookies of one visitor. ``changes`` counts updates, so a caller knows when to save.

    Cookies are filed by the domain they were set for, so the ``Cookie`` header of a request looks
    at its host and the domains above it only, however many sites the crawl's jar holds."""

    def __init__(self, data: Iterable[Iterable[Any]] = ()) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}  # oldest first
        self._domains: dict[str, dict[tuple[str, str, str], Cookie]] = {}
        self._age: dict[tuple[str, str, str], int] = {}  # when each was set: equal paths go oldest first
        self._set = 0  # cookies set so far
        self.changes = 0
        self.load(data)

    def header(self, url: URL, extra: Mapping[str, str] | None = None) -> str | None:
        """The ``Cookie`` header for ``url`` (longest paths first), with ``extra`` (the job's
        and the request hook's cookies) over same-named ones; None when there is none."""
        if not self._cookies:  # most crawls keep none: no scan, no clock, per request
            return "; ".join([f"{k}={v}" for k, v in extra.items()]) if extra else None
        host, path, now = (url.raw_host or "").lower(), url.raw_path or "/", time.time()
        secure = url.scheme in ("https", "wss")
        found = [
            c
            for domain in _domains_of(host)
            for c in self._domains.get(domain, {}).values()
            if (domain == host or not c.host_only)
            and (c.expires is None or c.expires > now)
            and _path_match(path, c.path)
            and (secure or not c.secure)
        ]
        found.sort(key=lambda c: (-len(c.path), self._age[(c.domain, c.path, c.name)]))
        pairs: dict[str, str] = {}
        for c in found:
            pairs.setdefault(c.name, c.value)  # the longest path wins a name
        if extra:
            pairs.update(extra)
        return "; ".join(f"{k}={v}" for k, v in pairs.items()) or None

    def update(self, url: URL, values: Iterable[str]) -> None:
        """Keep the ``Set-Cookie`` header ``values`` of an answer from ``url``; one that is
        malformed or set for another site is ignored, like a browser ignores it."""
        for value in values:
            try:
                cookie = _parse(value, url)
            except Exception:  # a site's odd header must never cost it its page: ignored, as browsers do
                continue
            if cookie is None:
                continue
            old = self._drop((cookie.domain, cookie.path, cookie.name))
            if cookie.expires is None or cookie.expires > time.time():
                self._add(cookie)
            elif old is None:
                continue  # deleting what is not there
            if old is None or _differ(old, cookie):
                self.changes += 1

    def data(self) -> list[list[Any]]:
        """The jar as JSON-ready values (expired cookies left out)."""
        now = time.time()
        return [list(astuple(c)) for c in self._cookies.values() if c.expires is None or c.expires > now]

    def load(self, data: Iterable[Iterable[Any]]) -> None:
        """Replace the cookies with those of :meth:`data` (another worker's, or a saved jar). A
        cookie for a public suffix, saved before the jar read the list, is left out."""
        self._cookies, self._domains, self._age = {}, {}, {}
        for values in data:
            cookie = Cookie(*values)
            if cookie.host_only or not _public_suffix(cookie.domain, cookie.domain):
                self._add(cookie)

    def __len__(self) -> int:
        return len(self._cookies)

    def _add(self, cookie: Cookie) -> None:
        """File the cookie as the newest; past a cap, the oldest of its domain or of the jar goes."""
        key = (cookie.domain, cookie.path, cookie.name)
        self._cookies[key] = cookie
        self._set += 1
        self._age[key] = self._set
        bucket = self._domains.setdefault(cookie.domain, {})
        bucket[key] = cookie
        if len(bucket) > MAX_PER_DOMAIN:
            self._drop(next(iter(bucket)))
        if len(self._cookies) > MAX_COOKIES:
            self._drop(next(iter(self._cookies)))

    def _drop(self, key: tuple[str, str, str]) -> Cookie | None:
        cookie = self._cookies.pop(key, None)
        if cookie is not None:
            del self._age[key]
            bucket = self._domains[cookie.domain]
            del bucket[key]
            if not bucket:
                del self._domains[cookie.domain]
        return cookie


def _domains_of(host: str) -> list[str]:
    """The domains whose cookies may reach ``host``: itself, then each above it (an address: itself)."""
    if _address(host):
        return [host]
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def _parse(text: str, url: URL) -> Cookie | None:
    """One ``Set-Cookie`` value (RFC 6265 section 5.2), or None to ignore it."""
    pair, *attributes = text.split(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    host = (url.raw_host or "").lower()
    if not eq or not name or len(name) + len(value) > MAX_COOKIE or not host:
        return None
    domain, path, secure, expires, max_age = "", "", False, None, None
    for attribute in attributes:
        key, _, arg = attribute.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "domain" and arg:
            domain = arg.lstrip(".").lower()
        elif key == "path" and arg.startswith("/"):
            path = arg
        elif key == "secure":
            secure = True
        elif key == "max-age" and _SECONDS.fullmatch(arg):
            max_age = _seconds(arg)
        elif key == "expires":
            expires = _date(arg)
    if domain and not (domain == host or _domain_match(host, domain)):
        return None  # set for another site
    if domain and _public_suffix(domain, host):
        if domain != host:
            return None  # for every site under a suffix such as co.uk (RFC 6265 section 5.3 step 5)
        domain = ""  # the suffix's own host (a github.io page): kept for that host alone, as browsers do
    now = time.time()
    if max_age is not None:  # Max-Age wins over Expires
        expires = now + min(max_age, MAX_AGE) if max_age > 0 else 0.0
    elif expires is not None:
        expires = min(expires, now + MAX_AGE)
    return Cookie(name, value, domain or host, path or _default_path(url), not domain, secure, expires)


def _seconds(arg: str) -> int:
    """Max-Age's seconds: a number of more digits than any life a cookie gets is that life (or,
    negative, none), never a huge int or int()'s refusal of thousands of digits."""
    if len(arg.lstrip("-")) > 12:
        return -1 if arg.startswith("-") else MAX_AGE
    return int(arg)


def _differ(old: Cookie, new: Cookie) -> bool:
    """Whether a cookie set again is news to save: its value, scope or kind of life changed (a
    session cookie's deadline moved on by a site that sets it on every answer is not)."""
    return (old.value, old.secure, old.host_only, old.expires is None) != (
        new.value,
        new.secure,
        new.host_only,
        new.expires is None,
    ) or (new.expires is not None and new.expires <= time.time())


def _date(text: str) -> float | None:
    """A cookie date (``Wed, 21 Oct 2015 07:28:00 GMT``, also with ``-`` between its parts)."""
    try:
        return parsedate_to_datetime(text.replace("-", " ")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):  # year 99999999999…
        return None


def _domain_match(host: str, domain: str) -> bool:
    """``host`` is under ``domain`` (never for IP addresses)."""
    return host.endswith("." + domain) and not _address(host)


def _address(host: str) -> bool:
    """``host`` is an IP address. A host without ``:`` that does not end in a digit is a name, told
    so without the ``ValueError`` of ``ipaddress`` (~5 microseconds, paid per cookie otherwise)."""
    if ":" not in host and not host[-1:].isdigit():
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _public_suffix(domain: str, host: str) -> bool:
    """Whether ``domain`` is a public suffix: listed (in the ICANN or the private section, as
    browsers read the list) or a last label the list does not know (its ``*`` rule). Not asked for
    an address or a one-label host such as ``localhost``, whose only possible Domain is the host."""
    return "." in host and not _address(host) and _suffix_list().is_public(domain)


@cache
def _suffix_list() -> PublicSuffixList:
    """The list bundled with ``publicsuffixlist`` (no network), read at the first Domain cookie:
    ~0.1 s once, then a few microseconds a cookie."""
    return PublicSuffixList()


def _path_match(path: str, cookie_path: str) -> bool:
    return path == cookie_path or (
        path.startswith(cookie_path) and (cookie_path.endswith("/") or path[len(cookie_path)] == "/")
    )


def _default_path(url: URL) -> str:
    """The directory of the URL's path (RFC 6265 section 5.1.4)."""
    path = url.raw_path or "/"
    if not path.startswith("/"):
        return "/"
    return path[: path.rfind("/")] or "/"
