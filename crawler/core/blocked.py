"""Telling a blocked answer (a challenge page, a bot wall) from a page: the ``blocked_when`` rules
and the defaults that catch the common challenge pages.

A rule holds when every condition it has holds (status, header, title, text, selector); an answer
is blocked when any rule holds. Each condition is checked where its evidence is: the fetcher
checks the head of every answer and the body of an error page (:meth:`BlockRules.head`,
:meth:`BlockRules.body`), the parser process a page it parses (:meth:`BlockRules.page`: title,
text and selectors on the tree it builds anyway, off the event loop). Pure, and picklable (it is
sent to the parser process with the reader).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from crawler.core.errors import FetchError, Kind

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # a header name
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
SHOWN = 80  # characters of a matched value a reason quotes


@dataclass(frozen=True, slots=True)
class BlockRule:
    """One rule; ``name`` says which in the reason a blocked record gives."""

    name: str
    statuses: frozenset[int] = frozenset()  # empty: any status
    header: str | None = None  # a header's name, lower case: the answer has it...
    header_value: re.Pattern[str] | None = None  # ...with a value this finds (case-insensitive)
    title: re.Pattern[str] | None = None  # searched in the page's <title>, whitespace collapsed
    text: re.Pattern[bytes] | None = None  # searched in the body's first max_parse_bytes
    selector: str | None = None  # a CSS selector that matches on the page

    @classmethod
    def make(
        cls,
        name: str,
        *,
        status: int | Iterable[int] = (),
        header: str | None = None,
        title: str | None = None,
        text: str | None = None,
        selector: str | None = None,
    ) -> BlockRule:
        """The rule the job's values describe; ValueError (one line) when they cannot be one."""
        statuses = frozenset([status] if isinstance(status, int) else status)
        if not (statuses or header or title or text or selector):
            raise ValueError("a rule needs at least one of status, header, title, text, selector")
        if selector and statuses and not any(200 <= s < 300 for s in statuses):
            raise ValueError(f"selector: is checked on parsed pages (2xx), and status {sorted(statuses)} never is one")
        header_name, header_value = _header_rule(header) if header is not None else (None, None)
        return cls(
            name,
            statuses,
            header_name,
            header_value,
            _regex(title, "title", str) if title is not None else None,
            _regex(text, "text", bytes) if text is not None else None,
            selector,
        )

    @property
    def reads_body(self) -> bool:
        return self.title is not None or self.text is not None or self.selector is not None

    def admits(self, status: int) -> bool:
        return not self.statuses or status in self.statuses

    def seen(
        self,
        status: int,
        headers: MultiMapping[str],
        body: bytes = b"",
        title: str | None = None,
        has: Callable[[str], bool] | None = None,
    ) -> str | None:
        """Why this rule holds for the answer (its reason), or None. Cheap conditions first."""
        if not self.admits(status):
            return None
        seen = [f"status {status}"] if self.statuses else []
        if self.header is not None:
            value = next((v for v in headers.getall(self.header, ()) if self._header_holds(v)), None)
            if value is None:
                return None
            seen.append(f"{self.header}: {value[:SHOWN]}" if self.header_value is not None else self.header)
        if self.title is not None:
            if title is None or not self.title.search(title):
                return None
            seen.append(f"title {title[:SHOWN]!r}")
        if self.text is not None:
            found = self.text.search(body)
            if found is None:
                return None
            seen.append(f"text {found.group(0)[:SHOWN].decode(errors='replace')!r}")
        if self.selector is not None:
            if has is None or not has(self.selector):
                return None
            seen.append(f"selector {self.selector}")
        return f"{self.name}: {', '.join(seen)}"

    def _header_holds(self, value: str) -> bool:
        return self.header_value is None or self.header_value.search(value) is not None


class BlockRules:
    """The job's rules (and the defaults, unless it turned them off), sorted by where they are
    checked. Empty: nothing is ever blocked."""

    def __init__(self, rules: Iterable[BlockRule] = (), *, defaults: bool = False) -> None:
        every = (*rules, *(DEFAULT_RULES if defaults else ()))  # the job's first: theirs name the reason
        self._head = tuple(r for r in every if not r.reads_body)
        self._error_body = tuple(
            r for r in every if r.reads_body and r.selector is None and (not r.statuses or r.statuses - _SUCCESS)
        )
        self._page = tuple(r for r in every if r.reads_body and (not r.statuses or r.statuses & _SUCCESS))
        self.page_reads_headers = any(r.header is not None for r in self._page)

    def head(self, status: int, headers: MultiMapping[str]) -> str | None:
        """Why an answer is blocked by its status and headers alone (any status), or None."""
        return next((why for r in self._head if (why := r.seen(status, headers)) is not None), None)

    def body(self, status: int, headers: MultiMapping[str], body: bytes) -> str | None:
        """Why an error page (not 2xx: it is not parsed) is blocked by its text, or None."""
        rules = [r for r in self._error_body if r.admits(status)]
        if not rules or 200 <= status < 300:
            return None
        title = _title(body) if any(r.title is not None for r in rules) else None
        return next((why for r in rules if (why := r.seen(status, headers, body, title)) is not None), None)

    def page(
        self, status: int, headers: MultiMapping[str], body: bytes, title: str | None, has: Callable[[str], bool]
    ) -> str | None:
        """Why a page the parser read (its body, title and selector matches ``has``) is blocked, or None."""
        return next((why for r in self._page if (why := r.seen(status, headers, body, title, has)) is not None), None)


def blocked_page(reason: str) -> FetchError:
    """The error of a blocked answer: retried (under another proxy first), and a ban of its proxy."""
    return FetchError(Kind.BLOCKED, reason, retryable=True, banned=True)


def is_blocked_page(error: FetchError | None) -> bool:
    """A blocked answer, not ``block_private_ips`` refusing an address (the same kind, no ban)."""
    return error is not None and error.kind is Kind.BLOCKED and error.banned


_SUCCESS = frozenset(range(200, 300))


def _header_rule(text: str) -> tuple[str, re.Pattern[str] | None]:
    """``Name`` (the answer has the header) or ``Name: regex`` (a value of it matches)."""
    name, colon, value = (part.strip() for part in text.partition(":"))
    if not _TOKEN.match(name):
        raise ValueError(f"header {text!r}: expected 'Name' or 'Name: regex'")
    return name.lower(), _regex(value, "header", str, re.IGNORECASE) if colon and value else None


def _regex(pattern: str, key: str, kind: type[Any], flags: int = 0) -> re.Pattern[Any]:
    try:
        return re.compile(pattern.encode() if kind is bytes else pattern, flags)
    except re.error as e:
        raise ValueError(f"{key}: bad regex {pattern!r}: {e}") from None


def _title(body: bytes) -> str | None:
    """An error page's <title> as the parser reads titles: entities decoded, whitespace collapsed."""
    found = _TITLE.search(body)
    return " ".join(html.unescape(found.group(1).decode(errors="replace")).split()) if found else None


# The defaults (``blocked_defaults: true``): challenge and block pages of the common bot walls,
# each matched by what only that page shows, so an ordinary page never is (a contact form with
# reCAPTCHA or Turnstile, a page that says "Access Denied", a site's own 403). Vendors' markers
# that ordinary pages carry too are left out: Cloudflare's /cdn-cgi/challenge-platform/scripts/
# on every page of a site it guards, Imperva's /_Incapsula_Resource scripts, DataDome's
# x-datadome header on every answer (a site's own 403 too). Rules for 2xx pages that search text
# cost a pass over each parsed page (in the parser process): titles and headers are nearly free,
# so most use those.
DEFAULTS: tuple[dict[str, Any], ...] = (
    # Cloudflare: the managed challenge says so in a header, whatever the status
    {"name": "Cloudflare challenge", "header": "cf-mitigated: challenge"},
    # Cloudflare: its edge's challenge and block pages (403, 503)
    {
        "name": "Cloudflare challenge",
        "status": [403, 503],
        "header": "server: ^cloudflare",
        "text": r"<title>Just a moment\.\.\.</title>|window\._cf_chl_opt|cf-chl-|"
        r"/cdn-cgi/challenge-platform/\S*orchestrate/|Attention Required! \| Cloudflare",
    },
    # Cloudflare: a challenge page's own title, on any status (a 200 challenge too)
    {"name": "Cloudflare challenge", "title": r"^(?:Just a moment\.\.\.|Attention Required! \| Cloudflare)$"},
    # Akamai: "Access Denied" with its "Reference #18.8f5d3e17.1591234567.1a2b3c4d" line
    {
        "name": "Akamai",
        "status": [403],
        "title": "^Access Denied$",
        "text": r"Reference(?:&#32;|\s)(?:&#35;|#)\s*[0-9a-f]+(?:&#46;|\.)[0-9a-f]+",
    },
    # DataDome: its captcha page (403), loaded from captcha-delivery.com
    {"name": "DataDome", "status": [403], "header": "x-dd-b"},
    {"name": "DataDome", "status": [403], "text": r"captcha-delivery\.com"},
    # PerimeterX / HUMAN: the "Press & Hold" captcha (403)
    {"name": "PerimeterX", "status": [403], "text": r"px-captcha|_pxCaptcha|Press (?:&amp;|&) Hold"},
    # Imperva / Incapsula: the incident page (often a 200): an iframe of the challenge resource
    {"name": "Imperva", "text": r"<iframe[^>]+/_Incapsula_Resource\?CWUDNSAI="},
    {"name": "Imperva", "status": [403], "text": r"Incapsula incident ID"},
    # AWS WAF: a captcha or challenge action, said in a header
    {"name": "AWS WAF", "header": r"x-amzn-waf-action: ^(?:captcha|challenge)$"},
    # Sucuri: its firewall's block page
    {
        "name": "Sucuri",
        "title": r"(?i)^(?:Access Denied - Sucuri Website Firewall"
        r"|Sucuri WebSite Firewall - (?:CloudProxy - )?Access Denied)$",
    },
)
DEFAULT_RULES = tuple(BlockRule.make(**rule) for rule in DEFAULTS)
