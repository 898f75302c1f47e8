"""Run one candidate over a page set, timing each page's CPU; a failing page scores as empty."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.content.datasets import Page

PAGE_TIMEOUT_S = 30  # a page that takes longer counts as a failure (empty output)
MAX_HTML_BYTES = 8_000_000  # skip absurdly large inputs (none of the chosen sets reaches this)


class PageTimeout(Exception):
    """Raised by SIGALRM so one pathological page cannot stall the whole run."""


def _alarm(signum: int, frame: Any) -> None:
    raise PageTimeout


@dataclass
class Run:
    outputs: list[str] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: int = 0


def run_one(fn: Callable[[Page], str], pages: list[Page]) -> Run:
    """fn over every page, in this process, after one untimed warm-up page."""
    signal.signal(signal.SIGALRM, _alarm)
    if pages:  # warm-up: lazy imports, caches, compiled regexes
        with contextlib.suppress(Exception):
            fn(pages[0])
    run = Run()
    for p in pages:
        out = ""
        signal.alarm(PAGE_TIMEOUT_S)
        t0 = time.process_time()
        try:
            out = fn(p) if len(p.html) <= MAX_HTML_BYTES else ""
        except Exception:  # a failing page is scored as empty output
            run.errors += 1
        t1 = time.process_time()
        signal.alarm(0)
        run.outputs.append(out)
        run.cpu_ms.append((t1 - t0) * 1000)
    return run
