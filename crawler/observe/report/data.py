"""What ``crawler report`` shows, read from a crawl's output: records, stats lines and items.

One pass over each file; memory holds per-host latencies and a few bounded tops, not the records.
Works on a finished, stopped, running or resumed crawl, and on a shared job (its merged
``records.jsonl``, or else every shard's). After re-crawls it reports the latest crawl.
"""

from __future__ import annotations

import heapq
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from crawler.core.records import crawl_of
from crawler.observe.stats import HostCounts

TOP = 20  # slowest and largest pages listed
HOSTS = 500  # rows of the per-host table (the busiest)
EXAMPLES = 3  # example URLs per error kind
POINTS = 600  # most points on a time chart
BUCKET = 5.0  # seconds per point when several workers' lines are summed


@dataclass(slots=True)
class Host(HostCounts):
    """A host's counts, with what only the records tell: robots.txt refusals, URLs that ended
    blocked, and latencies."""

    robots: int = 0
    blocked_urls: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


@dataclass
class Report:
    """Everything the page shows."""

    out: Path
    crawl: int = 1
    urls: int = 0
    pages: int = 0
    rendered: int = 0  # pages loaded in the browser (render:)
    bytes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    depths: Counter[int] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    hosts: dict[str, Host] = field(default_factory=lambda: defaultdict(Host))
    slowest: list[tuple[float, str]] = field(default_factory=list)
    largest: list[tuple[int, str]] = field(default_factory=list)
    items: Counter[str] = field(default_factory=Counter)
    extract_errors: Counter[str] = field(default_factory=Counter)
    timeline: list[tuple[float, float, float]] = field(default_factory=list)  # (t, pages/s, errors/s)
    proxies: dict[str, dict[str, int]] = field(default_factory=dict)
    dns: Counter[str] = field(default_factory=Counter)  # the resolver's counts, summed over runs and workers
    blocked: int = 0  # answers that were blocked pages, summed over runs and workers
    identities_made: int = 0  # identities: made, and retired by why; logins (ok, failed, relogins),
    retired: Counter[str] = field(default_factory=Counter)  # all summed over runs and workers
    logins: Counter[str] = field(default_factory=Counter)
    running: bool = False  # no final stats line yet: the crawl runs, or was killed


def read(out: Path) -> Report:
    report = Report(out)
    for path in _record_files(out):
        for line in _lines(path):
            crawl = crawl_of(line)
            if crawl > report.crawl:  # a later re-crawl: only its records count (none of it came before)
                report = Report(out, crawl=crawl)
            if crawl == report.crawl:
                _count(report, line)
    report.slowest.sort(reverse=True)
    report.largest.sort(reverse=True)
    for path in _sibling_files(out, "items.jsonl"):
        for item in _lines(path):
            report.items[str(item.get("rule") or "(parse hook)")] += 1
    _read_stats(report, _sibling_files(out, "stats.jsonl"))
    return report


def _count(report: Report, line: dict[str, Any]) -> None:
    url = str(line["url"])
    host = report.hosts[_host(url)]
    report.urls += 1
    host.urls += 1
    status, error = line.get("status"), line.get("error")
    if status is not None:
        report.statuses[str(status)] += 1
    if error:
        kind = str(error.get("kind"))
        report.errors[kind] += 1
        host.errors += 1
        host.robots += kind == "robots"
        host.blocked_urls += kind == "blocked"
        if len(report.examples[kind]) < EXAMPLES:
            report.examples[kind].append(f"{url} — {error.get('message', '')}"[:300])
    elif isinstance(status, int) and (200 <= status < 300 or status == 304):
        report.pages += 1
        report.rendered += bool(line.get("rendered"))
        host.pages += 1
        size = int(line.get("bytes") or 0)
        report.bytes += size
        host.bytes += size
        _keep_top(report.largest, (size, url))
    report.depths[int(line.get("depth") or 0)] += 1
    ctype = str(line.get("content_type") or "none").split(";")[0].strip().lower()
    report.types[ctype] += 1
    report.changes[str(line.get("change") or "new")] += 1
    elapsed = line.get("elapsed_ms")
    if isinstance(elapsed, int | float):
        host.latencies.append(float(elapsed))
        _keep_top(report.slowest, (float(elapsed), url))
    for problem in line.get("extract_errors") or []:
        report.extract_errors[_problem_kind(str(problem))] += 1


def _read_stats(report: Report, files: list[Path]) -> None:
    """The time chart (summed over workers in BUCKET-second steps), throttles and blocked pages
    per host and proxies (the last line of each run of each worker)."""
    pages: Counter[int] = Counter()
    errors: Counter[int] = Counter()
    last: dict[tuple[Path, float], dict[str, Any]] = {}
    for path in files:
        for line in _lines(path):
            bucket = int(float(line["t"]) // BUCKET)
            interval = line.get("interval") or {}
            pages[bucket] += int(interval.get("pages", 0))
            errors[bucket] += int(interval.get("errors", 0))
            last[(path, float(line.get("run", 0)))] = line
    buckets = sorted(pages)
    step = max(1, len(buckets) // POINTS)
    for i in range(0, len(buckets), step):
        group = buckets[i : i + step]
        span = BUCKET * len(group)
        report.timeline.append(
            (group[0] * BUCKET, sum(pages[b] for b in group) / span, sum(errors[b] for b in group) / span)
        )
    for line in last.values():
        for host, counts in (line.get("hosts") or {}).items():
            if host in report.hosts:
                report.hosts[host].throttles += int(counts.get("throttles", 0))
                report.hosts[host].blocked += int(counts.get("blocked", 0))
        report.blocked += int(line.get("blocked", 0))
        for proxy, counts in (line.get("proxies") or {}).items():
            mine = report.proxies.setdefault(proxy, Counter())
            for key, value in counts.items():
                mine[key] += int(value)
        for key, value in (line.get("dns") or {}).items():
            report.dns[key] += value
        identities = line.get("identities") or {}
        report.identities_made += int(identities.get("made", 0))
        report.retired.update(identities.get("retired") or {})
        report.logins.update(line.get("logins") or {})
    report.running = bool(last) and not all(line.get("final") for line in last.values())


def _keep_top(heap: list[Any], entry: Any) -> None:
    if len(heap) < TOP:
        heapq.heappush(heap, entry)
    elif entry > heap[0]:
        heapq.heapreplace(heap, entry)


def _problem_kind(problem: str) -> str:
    """An extraction problem without its item index and quoted value: errors of one field group."""
    return re.sub(r"'[^']*'", "'…'", re.sub(r"\[\d+\]", "[]", problem))[:200]


def _host(url: str) -> str:
    return url.split("/", 3)[2] if url.count("/") >= 2 else url


def _record_files(out: Path) -> list[Path]:
    """``OUT/records.jsonl`` (a merged shared job too), else every shard's."""
    if (out / "records.jsonl").is_file():
        return [out / "records.jsonl"]
    return sorted((out / "shards").glob("*/records.jsonl"))


def _sibling_files(out: Path, name: str) -> list[Path]:
    """``OUT/<name>``, else every shard's (a shared job merged or not)."""
    if (out / name).is_file():
        return [out / name]
    return sorted((out / "shards").glob(f"*/{name}"))


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """Whole JSON objects of a line file (a torn last line of a running crawl is skipped)."""
    with open(path, "rb") as f:
        for raw in f:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value
