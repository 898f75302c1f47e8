"""What one visit of a leased URL comes to: a value the pipeline returns, never an edit of the
lease. :class:`Final` ends the URL (its record, and what its page led to); :class:`Again` sends it
back to its host's queue with the attempt state its next try starts from, so the engine settles
both with the frontier in one call and every backend stores the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crawler.core.content import PageContent
from crawler.core.record import Record
from crawler.core.request import Attempts, Request, Visit


class Source(StrEnum):
    """Where a URL came from; seeds are in scope by definition."""

    SEED = "seed"
    LINK = "link"  # checked against LinkRules in the parser, before it left the page
    REDIRECT = "redirect"
    SITEMAP = "sitemap"


class Reason(StrEnum):
    """Why a URL goes back to its queue instead of ending."""

    RETRY = "retry"  # the site (or its robots.txt) failed in a retryable way: one attempt spent
    PROXY = "proxy"  # our proxy failed: another one, no attempt spent
    BLOCKED = "blocked"  # the answer was a blocked page: under another proxy (identity), no attempt spent
    NO_PROXY = "no proxy"  # no proxy of its pool is usable now: wait, up to ``proxy_wait``
    RENDER = "render"  # its plain HTML is a script-built shell: load it in the browser next
    LOCAL = "local"  # this machine ran out of something: no attempt, and the stall watch counts it
    STOPPED = "stopped"  # the crawl stopped before the request was sent: untouched
    DELAY = "delay"  # robots.txt took the host's turn and its delay is long: the page waits queued


@dataclass(frozen=True, slots=True)
class Final:
    """The URL's one record, with the requests (``follow``, admitted as ``source``), items and
    content its page produced, and what the visit leaves for the next re-crawl."""

    record: Record
    visit: Visit | None = None
    follow: list[Request] = field(default_factory=list)
    source: Source = Source.LINK
    items: list[dict[str, Any]] = field(default_factory=list)
    content: PageContent | None = None


@dataclass(frozen=True, slots=True)
class Again:
    """Try the URL again: its host starts nothing new for ``after`` seconds, and the URL's next
    attempt starts from ``attempts``. ``detail`` says what failed (the stall watch names it)."""

    reason: Reason
    after: float
    attempts: Attempts
    detail: str = ""


Step = Final | Again
