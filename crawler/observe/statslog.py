"""``OUT/stats.jsonl``: the crawl's numbers over time, one line every few seconds and at the end.

Each line holds cumulative counts of this run and the change since the previous line (so rates
need no subtraction across runs), the frontier's queued and in-flight counts, the busiest hosts,
the proxies, the name lookups, and the identities and logins. A resumed crawl appends: ``run``
(the run's start, epoch seconds) tells runs apart. Written by the same checkpoint that writes
records; a line is small, so this costs nothing next to them.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from crawler.core.usage import DnsUse, IdentityUse, ProxyUse
from crawler.observe.stats import Stats

EVERY = 5.0  # seconds between lines
TOP_HOSTS = 20  # hosts listed per line (the busiest); the rest are summed as "other"


class StatsLog:
    """Appends a line to ``OUT/stats.jsonl`` at most every EVERY seconds, and one at the end."""

    def __init__(self, out: Path) -> None:
        self._path = out / "stats.jsonl"
        self._run = round(time.time(), 3)
        self._last: dict[str, Any] = {"urls": 0, "pages": 0, "bytes": 0, "errors": 0, "retries": 0}
        self._last_at = time.monotonic()

    def tick(
        self, stats: Stats, queued: int, inflight: int, proxies: Iterable[ProxyUse], *, final: bool = False
    ) -> None:
        now = time.monotonic()
        if not final and now - self._last_at < EVERY:
            return
        totals = {
            "urls": stats.records,
            "pages": stats.pages,
            "bytes": stats.bytes,
            "errors": sum(stats.errors.values()),
            "retries": stats.retries,
        }
        line = {
            "t": round(time.time(), 3),
            "run": self._run,
            "elapsed": round(stats.elapsed(), 3),
            "final": final,
            **totals,
            "interval": {"seconds": round(now - self._last_at, 3), **{k: totals[k] - self._last[k] for k in totals}},
            "errors_by_kind": dict(stats.errors),
            "statuses": {str(k): v for k, v in stats.statuses.items()},
            "items": stats.items,
            "rendered": stats.rendered,
            "blocked": stats.blocked,
            **identity_counts(stats.identities or IdentityUse()),
            "queued": queued,
            "inflight": inflight,
            "hosts": top_hosts(stats),
            "proxies": {
                p.id: {
                    "requests": p.requests,
                    "failures": p.failures,
                    "bans": p.bans,
                    "blocked": p.blocked,
                    "bytes": p.bytes,
                }
                for p in proxies
            },
        }
        if stats.dns is not None:
            line["dns"] = dns_counts(stats.dns)
        with open(self._path, "ab") as f:
            f.write(orjson.dumps(line) + b"\n")
        self._last, self._last_at = totals, now


def dns_counts(use: DnsUse) -> dict[str, int | float]:
    """The resolver's counts of this run (cumulative), as stats.jsonl and the report read them."""
    return {
        "lookups": use.lookups,
        "cached": use.cached,
        "not_found": use.not_found,
        "failures": use.failures,
        "seconds": round(use.seconds, 3),
    }


def identity_counts(use: IdentityUse) -> dict[str, dict[str, Any]]:
    """Identities made and retired (by why) and logins (``ok`` counts the re-logins too) by this
    run, zeros when the job has none (as ``blocked``)."""
    return {
        "identities": {"made": use.made, "retired": dict(use.retired)},
        "logins": {"ok": use.logins, "failed": use.login_failures, "relogins": use.relogins},
    }


def top_hosts(stats: Stats, n: int = TOP_HOSTS) -> dict[str, dict[str, int]]:
    """The ``n`` hosts with most URLs, and ``other`` for the rest (bounded for broad crawls; hosts
    the stats no longer count one by one are in ``other`` too)."""
    fields = ("urls", "pages", "errors", "bytes", "throttles", "blocked")
    top = heapq.nlargest(n, stats.hosts.items(), key=lambda kv: kv[1].urls)
    out = {host: {f: getattr(c, f) for f in fields} for host, c in top}
    rest = len(stats.hosts) - len(top)
    if rest or stats.other_hosts.urls:
        shown = {f: sum(c[f] for c in out.values()) for f in fields}
        everyone = {f: sum(getattr(c, f) for c in stats.hosts.values()) + getattr(stats.other_hosts, f) for f in fields}
        out["other"] = {f: everyone[f] - shown[f] for f in fields}
    return out
