"""Re-crawls: which URLs are due again, what changed, and the list of changes.

A job's first crawl is generation 1; ``--recrawl`` starts the next generation of a finished job.
Each due URL is fetched again with the validators of its last visit (``If-None-Match``,
``If-Modified-Since``) if its page file is still whole (see ``Fetcher._kept``), and its record
says how it compares with that visit: ``new`` (no earlier visit), ``changed``, ``unchanged`` (304,
or the same content digest) or ``gone`` (it answered before; now it fails, or says 404/410).
``OUT/changes.jsonl`` lists the URLs of the latest generation that are not unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from crawler.core.record import Record
from crawler.core.records import crawl_of, read_jsonl, redirect_digest
from crawler.core.request import Visit
from crawler.core.urls import url_pattern

ADAPTIVE_SPAN = 8.0  # an adaptive interval stays within [after / 8, after * 8]
DEFAULT_AFTER = 86_400.0  # adaptive re-crawls without recrawl_after start from a day


@dataclass(frozen=True, slots=True)
class RecrawlSettings:
    """When a URL is due again: after a fixed interval, by rule, or by how often it changes."""

    after: float | None  # recrawl_after: seconds since the last visit
    rules: tuple[tuple[str, float], ...]  # (URL pattern, seconds): the first match wins
    adaptive: bool  # each URL's interval follows how often it changes


def change(previous: Visit | None, now: Visit) -> str:
    """``new``, ``changed``, ``unchanged`` or ``gone``: ``now`` against the URL's last visit."""
    if previous is None:
        return "new"
    if not now.ok:
        return "gone" if previous.ok else "unchanged"
    if previous.ok and now.digest is not None and now.digest == previous.digest:
        return "unchanged"
    return "changed"


def visit_after(
    record: Record, headers: Mapping[str, str] | None, previous: Visit | None, settings: RecrawlSettings
) -> Visit:
    """What this fetch leaves for the next re-crawl; sets the record's ``change`` and validators."""
    status = record.status
    ok = record.error is None and status is not None and status < 400
    digest = None
    if ok and status is not None and 300 <= status < 400 and status != 304 and record.final_url is not None:
        digest = redirect_digest(record.final_url)
    elif ok:
        digest = record.sha256
    now = time.time()
    etag = headers.get("ETag") if headers is not None else None
    last_modified = headers.get("Last-Modified") if headers is not None else None
    if status == 304 and previous is not None:  # a 304 may omit the validators it still honours
        etag, last_modified = etag or previous.etag, last_modified or previous.last_modified
    visit = Visit(status, ok, digest, record.path, etag, last_modified, now, now)
    record.change = change(previous, visit)
    record.etag, record.last_modified = etag, last_modified
    unchanged = record.change == "unchanged" and previous is not None
    return dataclasses.replace(
        visit,
        changed_at=previous.changed_at if unchanged and previous else now,
        revisit=next_revisit(settings, previous, changed=not unchanged),
    )


def next_revisit(settings: RecrawlSettings, previous: Visit | None, changed: bool) -> float | None:
    """Adaptive re-crawls: a URL that changed comes back twice as soon, one that did not half as
    often, within bounds around ``recrawl_after``; None when re-crawls are not adaptive."""
    if not settings.adaptive:
        return None
    base = settings.after or DEFAULT_AFTER
    current = previous.revisit if previous is not None and previous.revisit else base
    wanted = current / 2 if changed else current * 2
    return min(max(wanted, base / ADAPTIVE_SPAN), base * ADAPTIVE_SPAN)


def due_policy(settings: RecrawlSettings) -> Callable[[str, Visit | None], bool] | None:
    """Which URLs the next generation fetches again (None: every one): those whose last visit
    is older than their interval (the first ``recrawl_rules`` entry whose URL pattern matches,
    else ``recrawl_after``; with adaptive re-crawls, the URL's own interval)."""
    if settings.after is None and not settings.rules and not settings.adaptive:
        return None
    rules = [(url_pattern(match), after) for match, after in settings.rules]
    default = settings.after if settings.after is not None else (DEFAULT_AFTER if settings.adaptive else 0.0)
    now = time.time()

    def due(url: str, visit: Visit | None) -> bool:
        if visit is None:
            return True
        after = next((a for matches, a in rules if matches(url)), None)
        if after is None:
            after = visit.revisit if settings.adaptive and visit.revisit else default
        return now - visit.fetched_at >= after

    return due


def write_changes(out: Path, generation: int) -> Counter[str]:
    """Rewrite ``OUT/changes.jsonl`` from the records of ``generation`` (every change but
    ``unchanged``); return the count of each kind of change."""
    counts: Counter[str] = Counter()
    tmp = out / "changes.jsonl.tmp"
    with open(tmp, "wb") as changes:
        for line in read_jsonl(out / "records.jsonl"):
            if crawl_of(line) != generation:
                continue
            counts[line.get("change") or "new"] += 1
            if line.get("change") != "unchanged":
                changes.write(orjson.dumps({k: line.get(k) for k in _CHANGE_FIELDS}) + b"\n")
    os.replace(tmp, out / "changes.jsonl")
    return counts


def changed_urls(out: Path) -> set[str]:
    """The URLs the latest crawl found new, changed or gone (``changes.jsonl``)."""
    return {line["url"] for line in read_jsonl(out / "changes.jsonl") if isinstance(line.get("url"), str)}


_CHANGE_FIELDS = ("url", "change", "crawl", "status", "sha256", "path", "fetched_at")
