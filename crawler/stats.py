"""Counters of a crawl, the live progress line and the closing summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


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
    interrupted: bool = False
    left_queued: int = 0
    resumed: int = 0
    items: int = 0
    proxy_report: list[str] = field(default_factory=list)
    throttle_report: list[str] = field(default_factory=list)

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
            f"errors: {errs}; retries: {self.retries}" + (f"; items: {self.items}" if self.items else ""),
        ]
        if self.resumed:
            lines.insert(0, f"Resumed: {self.resumed} URLs were already done before this run")
        if self.left_queued:
            lines.append(f"{self.left_queued} URLs are still queued; run the same job again to resume")
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
