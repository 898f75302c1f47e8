"""Counters of a crawl, the live progress line and the closing summary."""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from crawler.core.record import Record

MAX_WARNINGS = 100  # kept word for word; later ones are only counted
RATE_SAMPLES = 10  # progress samples behind "pages/s" (one per tick: the last ~5 s)


@dataclass(slots=True)
class HostCounts:
    """One host's share of the crawl (for stats.jsonl, /metrics and the report)."""

    urls: int = 0
    pages: int = 0
    errors: int = 0
    bytes: int = 0
    throttles: int = 0  # answers that slowed the host down: 429, 503, timeouts


@dataclass
class Stats:
    """What the crawl did so far; the engine updates it, the CLI prints it."""

    started: float = field(default_factory=time.perf_counter)
    records: int = 0
    pages: int = 0
    rendered: int = 0  # pages loaded in the browser (render:)
    redirects: int = 0
    bytes: int = 0
    retries: int = 0
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
    proxy_report: list[str] = field(default_factory=list)
    throttle_report: list[str] = field(default_factory=list)
    shared_report: list[str] = field(default_factory=list)  # a shared job's worker: its Redis use
    render_report: list[str] = field(default_factory=list)  # the browser's pages, memory, restarts
    hook_failures: int = 0  # on_record / on_item calls that raised (parse hook failures: error kind hook)
    extract_errors: int = 0  # problems extraction rules met (records' extract_errors)
    generation: int = 1  # a re-crawl's generation (> 1), with its changes so far (all its runs)
    changes: Counter[str] = field(default_factory=Counter)
    recrawled: int | None = None  # URLs this run queued again, when it started a new generation
    extract_error_pages: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    _rate: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES))

    def host(self, key: str) -> HostCounts:
        counts = self.hosts.get(key)
        if counts is None:
            counts = self.hosts[key] = HostCounts()
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

    def progress_line(self, queued: int, inflight: int) -> str:
        e = int(self.elapsed())
        return (
            f"{e // 3600}:{e // 60 % 60:02d}:{e % 60:02d}  {self.records} urls  {self.pages} pages  "
            f"{sum(self.errors.values())} errors  {self.bytes / 1e6:.1f} MB  {self.recent_rate():.0f} pages/s  "
            f"queued {queued}  in flight {inflight}"
        )

    def summary(self, output: str) -> str:
        e = self.elapsed()
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        lines = [
            f"{'Interrupted' if self.interrupted else 'Done'} in {e:.2f}s: {self.records} URLs, "
            f"{self.pages} pages, {self.redirects} redirects, {self.bytes / 1e6:.1f} MB, "
            f"{self.records / e:.1f} URLs/s",
            f"errors: {errs}; retries: {self.retries}"
            + (f"; items: {self.items}" if self.items else "")
            + (f"; hook failures: {self.hook_failures}" if self.hook_failures else ""),
        ]
        if self.recrawled is not None:
            lines.insert(0, f"Re-crawl: crawl {self.generation}, {self.recrawled} known URLs due again")
        if self.generation > 1:
            c = self.changes
            lines.append(
                f"crawl {self.generation}: {c['new']} new, {c['changed']} changed, {c['unchanged']} "
                f"unchanged, {c['gone']} gone (OUT/changes.jsonl)"
            )
        if self.extract_errors:
            lines.append(
                f"extraction errors: {self.extract_errors} on {self.extract_error_pages} pages "
                "(see extract_errors in records.jsonl)"
            )
        if self.resumed:
            lines.insert(0, f"Resumed: {self.resumed} URLs were already done before this run")
        if self.damaged:
            lines.append(
                f"{self.damaged} damaged lines of records/items were set aside (OUT/<file>.damaged) before resuming"
            )
        if self.left_queued:
            lines.append(f"{self.left_queued} URLs are still queued; run the same job again to resume")
        if self.connections:
            lines.append(
                f"connections: {self.new_connections} new for {self.connections} requests "
                f"({self.new_connections / self.connections:.2f} per request)"
            )
        lines += self.shared_report + self.render_report
        if self.throttle_report:
            lines += ["throttled hosts:", *(f"  {line}" for line in self.throttle_report)]
        if self.proxy_report:
            lines += ["proxies:", *(f"  {line}" for line in self.proxy_report)]
        lines.append(f"output: {output}")
        return "\n".join(lines)


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
