"""Counters of a crawl, as data (:mod:`crawler.observe.summary` writes them as text), and the live
progress line's display."""

from __future__ import annotations

import sys
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from crawler.core.usage import BrowserUse, DnsUse, IdentityUse, ProxyUse, RedisUse, Throttling

if TYPE_CHECKING:
    from crawler.core.record import Record

MAX_WARNINGS = 100  # kept word for word; later ones are only counted
HOSTS_KEPT = 10_000  # hosts counted one by one (the most recently active); the rest are summed as "other"
RATE_SAMPLES = 10  # progress samples behind "pages/s" (one per tick: the last ~5 s)


@dataclass(slots=True)
class HostCounts:
    """One host's share of the crawl (for stats.jsonl, /metrics and the report)."""

    urls: int = 0
    pages: int = 0
    errors: int = 0
    bytes: int = 0
    throttles: int = 0  # answers that slowed the host down: 429, 503, timeouts, blocked pages
    blocked: int = 0  # answers that were blocked pages (blocked_when), retried or not


@dataclass
class Stats:
    """What the crawl did so far: numbers and typed records of use, no text. The engine updates it;
    :func:`crawler.observe.summary.summary` is what the CLI prints of it."""

    started: float = field(default_factory=time.perf_counter)
    records: int = 0
    pages: int = 0
    rendered: int = 0  # pages loaded in the browser (render:)
    redirects: int = 0
    bytes: int = 0
    retries: int = 0
    blocked: int = 0  # answers that were blocked pages (blocked_when), each retry's too
    errors: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    interrupted: bool = False
    left_queued: int = 0
    resumed: int = 0
    items: int = 0
    damaged: int = 0
    new_connections: int = 0
    connections: int = 0  # connections handed to requests, new or reused
    proxies: list[ProxyUse] = field(default_factory=list)
    throttled: Throttling = field(default_factory=Throttling)  # hosts the AIMD throttle slowed down
    redis: RedisUse | None = None  # a shared job's worker: its Redis use
    browser: BrowserUse | None = None  # the browser's pages, memory, restarts
    dns: DnsUse | None = None  # name lookups (counted live by the resolver)
    identities: IdentityUse | None = None  # identities made and retired, logins (counted live by them)
    hook_failures: int = 0  # on_record / on_item calls that raised (parse hook failures: error kind hook)
    extract_errors: int = 0  # problems extraction rules met (records' extract_errors)
    generation: int = 1  # a re-crawl's generation (> 1), with its changes so far (all its runs)
    changes: Counter[str] = field(default_factory=Counter)
    recrawled: int | None = None  # URLs this run queued again, when it started a new generation
    extract_error_pages: int = 0
    content_pages: int = 0  # content: pages whose main content was written (or skipped as a near-duplicate)
    near_duplicates: int = 0  # of those, near-duplicates of a page seen before
    statuses: Counter[int] = field(default_factory=Counter)
    hosts: OrderedDict[str, HostCounts] = field(default_factory=OrderedDict)  # least recently active first
    other_hosts: HostCounts = field(default_factory=HostCounts)  # hosts no longer counted one by one
    _rate: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES))

    def host(self, key: str) -> HostCounts:
        """The host's counts. A broad crawl meets a million hosts: past HOSTS_KEPT, the one active
        least recently is folded into ``other_hosts`` (its share is kept, its name is not)."""
        counts = self.hosts.get(key)
        if counts is None:
            counts = self.hosts[key] = HostCounts()
            if len(self.hosts) > HOSTS_KEPT:
                _, old = self.hosts.popitem(last=False)
                for name in HostCounts.__slots__:
                    setattr(self.other_hosts, name, getattr(self.other_hosts, name) + getattr(old, name))
        else:
            self.hosts.move_to_end(key)
        return counts

    def count(self, record: Record, items: int, host: str = "") -> None:
        """Count one final record (and the items its page gave)."""
        self.records += 1
        per_host = self.host(host)
        per_host.urls += 1
        if record.status is not None:
            self.statuses[record.status] += 1
        if record.error is not None:
            self.errors[record.error.kind.value] += 1
            per_host.errors += 1
        elif record.ok:
            self.pages += 1
            self.rendered += record.rendered
            self.bytes += record.bytes
            per_host.pages += 1
            per_host.bytes += record.bytes
        self.items += items
        if record.extract_errors:
            self.extract_errors += len(record.extract_errors)
            self.extract_error_pages += 1

    def blocked_page(self, host: str) -> None:
        """Count an answer of ``host`` that was a blocked page."""
        self.blocked += 1
        self.host(host).blocked += 1

    def warn(self, message: str) -> None:
        """Keep the first MAX_WARNINGS warnings and count all (a broad crawl can warn per host)."""
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def elapsed(self) -> float:
        return max(time.perf_counter() - self.started, 1e-9)

    def recent_rate(self) -> float:
        """Pages per second over the last few seconds (samples taken with each progress line)."""
        now = time.perf_counter()
        self._rate.append((now, self.pages))
        then, pages = self._rate[0]
        return (self.pages - pages) / (now - then) if now > then else 0.0


class Progress:
    """The crawl's progress: one status line rewritten on a terminal, or (``log``, and by
    default without a terminal) a timestamped line every ``every`` seconds, for the logs of long
    jobs in CI or containers."""

    def __init__(self, stream: TextIO = sys.stderr, mode: str = "auto", every: float = 10.0) -> None:
        self._stream = stream
        if mode == "auto":
            mode = "tty" if stream.isatty() else "log"
        self.mode = mode
        self._every = every
        self._next_log = time.monotonic()  # the first line at once, then one every ``every`` s
        self._width = 0

    def show(self, line: str) -> None:
        if self.mode == "tty":
            self._stream.write("\r" + line.ljust(self._width))
            self._stream.flush()
            self._width = len(line)
        elif self.mode == "log" and time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self._every
            self._stream.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} progress: {line}\n")
            self._stream.flush()

    def clear(self) -> None:
        if self.mode == "tty" and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
