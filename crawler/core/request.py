"""A URL's journey through the crawl: the request, its lease, its last visit, and the caps and
counts the frontier keeps. Every backend and every stage speaks in these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Visit:
    """What the last fetch of a URL left, kept by persistent frontiers for re-crawls: validators
    for conditional requests, the content digest (body sha256, or the redirect target's) and
    times (wall-clock seconds)."""

    status: int | None  # None: the fetch failed without an HTTP answer
    ok: bool  # the URL gave a page or a redirect (not an error, not 404/410)
    digest: str | None = None
    path: str | None = None  # the page file, relative to OUT
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float = 0.0
    changed_at: float = 0.0  # when the digest last changed
    revisit: float | None = None  # adaptive re-crawls: seconds until the URL is due again


@dataclass(frozen=True, slots=True)
class Attempts:
    """Where a URL's attempts stand: everything a retry changes. A retry never edits the leased
    request; it hands the frontier the next value (``dataclasses.replace``), and every backend
    stores all of it with the queued URL, so a URL keeps its count across a resume or a move to
    another worker."""

    attempt: int = 0  # attempts spent on the site's retryable failures; the record says attempt + 1
    proxy_attempts: int = 0  # retries spent on failing proxies (they spend no ``attempt``)
    render: bool = False  # load it in the browser: its plain HTML looked like a script-built shell
    proxy_waiting_since: float | None = None  # wall-clock time it first found no usable proxy


FIRST_ATTEMPT = Attempts()


@dataclass(slots=True)
class Request:
    """One URL to fetch, with where it came from. ``url`` is the browser's URL (``crawler.urls``),
    requested as it is; frontiers deduplicate by its ``dedup_key``. ``host`` is its host key."""

    url: str
    host: str
    depth: int = 0
    parent: str | None = None
    redirects: int = 0
    meta: dict[str, Any] | None = None  # the user's JSON data (parse hook's follow), kept with the URL
    priority: int = 0  # higher is leased first among its host's queued URLs (see PRIORITY_RANGE)
    previous: Visit | None = None  # the URL's last fetch, in an earlier crawl of the job (re-crawls)
    attempts: Attempts = FIRST_ATTEMPT


PRIORITY_RANGE = range(-1_000_000, 1_000_001)  # what every backend orders exactly


@dataclass(frozen=True, slots=True)
class Lease:
    """A request taken from the frontier by one worker. ``expires`` (wall-clock seconds) is when
    another process may take the URL back; single-process backends take every lease back when
    they are opened after a crash instead."""

    id: int
    request: Request
    expires: float


@dataclass(frozen=True, slots=True)
class Caps:
    """Admission limits the frontier enforces atomically with dedup, where the counts live:
    ``total`` URLs ever admitted (``max_pages``) and per host key (``max_pages_per_host``)."""

    total: int | None = None
    per_host: int | None = None


NO_CAPS = Caps()


@dataclass(frozen=True, slots=True)
class Counts:
    """The whole job's numbers, across every process that shares it."""

    queued: int  # waiting in queues
    leased: int  # taken by a worker, not yet done or failed
    admitted: int  # ever admitted (across resumes)

    @property
    def unfinished(self) -> int:
        return self.queued + self.leased
