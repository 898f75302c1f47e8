"""Counters of a crawl, the live progress line and the closing summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from crawler.record import Record

MAX_WARNINGS = 100  # kept word for word; later ones are only counted


@dataclass
class Stats:
    """What the crawl did so far; the engine updates it, the CLI prints it."""

    started: float = field(default_factory=time.perf_counter)
    records: int = 0
    pages: int = 0
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
    hook_failures: int = 0  # on_record / on_item calls that raised (parse hook failures: error kind hook)
    extract_errors: int = 0  # problems extraction rules met (records' extract_errors)
    generation: int = 1  # a re-crawl's generation (> 1), with its changes so far (all its runs)
    changes: Counter[str] = field(default_factory=Counter)
    recrawled: int | None = None  # URLs this run queued again, when it started a new generation
    extract_error_pages: int = 0

    def count(self, record: Record, items: int) -> None:
        """Count one final record (and the items its page gave)."""
        self.records += 1
        if record.error is not None:
            self.errors[record.error.kind.value] += 1
        elif record.ok:
            self.pages += 1
            self.bytes += record.bytes
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

    def progress_line(self, queued: int, inflight: int) -> str:
        return (f"{self.records} urls  {self.pages} pages  {sum(self.errors.values())} errors  "
                f"{self.records / self.elapsed():.0f}/s  queued {queued}  in flight {inflight}")

    def summary(self, output: str) -> str:
        e = self.elapsed()
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        lines = [
            f"{'Interrupted' if self.interrupted else 'Done'} in {e:.2f}s: {self.records} URLs, "
            f"{self.pages} pages, {self.redirects} redirects, {self.bytes / 1e6:.1f} MB, "
            f"{self.records / e:.1f} URLs/s",
            f"errors: {errs}; retries: {self.retries}" + (f"; items: {self.items}" if self.items else "")
            + (f"; hook failures: {self.hook_failures}" if self.hook_failures else ""),
        ]
        if self.recrawled is not None:
            lines.insert(0, f"Re-crawl: crawl {self.generation}, {self.recrawled} known URLs due again")
        if self.generation > 1:
            c = self.changes
            lines.append(f"crawl {self.generation}: {c['new']} new, {c['changed']} changed, {c['unchanged']} "
                         f"unchanged, {c['gone']} gone (OUT/changes.jsonl)")
        if self.extract_errors:
            lines.append(f"extraction errors: {self.extract_errors} on {self.extract_error_pages} pages "
                         "(see extract_errors in records.jsonl)")
        if self.resumed:
            lines.insert(0, f"Resumed: {self.resumed} URLs were already done before this run")
        if self.damaged:
            lines.append(f"{self.damaged} damaged lines of records/items were set aside "
                         "(OUT/<file>.damaged) before resuming")
        if self.left_queued:
            lines.append(f"{self.left_queued} URLs are still queued; run the same job again to resume")
        if self.connections:
            lines.append(f"connections: {self.new_connections} new for {self.connections} requests "
                         f"({self.new_connections / self.connections:.2f} per request)")
        lines += self.shared_report
        if self.throttle_report:
            lines += ["throttled hosts:", *(f"  {line}" for line in self.throttle_report)]
        if self.proxy_report:
            lines += ["proxies:", *(f"  {line}" for line in self.proxy_report)]
        lines.append(f"output: {output}")
        return "\n".join(lines)


class Progress:
    """Rewrites one status line on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self._stream = stream
        self.enabled = enabled and stream.isatty()
        self._width = 0

    def show(self, line: str) -> None:
        if self.enabled:
            self._stream.write("\r" + line.ljust(self._width))
            self._stream.flush()
            self._width = len(line)

    def clear(self) -> None:
        if self.enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
