"""Reading a job's line files (``records.jsonl``, ``items.jsonl``) after :mod:`crawler.sinks.repair`
has made them whole: frontiers, re-crawls, merge and the report all read records through this."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from crawler.core.request import Visit


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of a repaired JSON-lines file (nothing if there is no file)."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for raw in f:
            yield orjson.loads(raw)


def crawl_of(line: Mapping[str, Any]) -> int:
    """The generation of a record (records of versions before re-crawls are generation 1)."""
    crawl = line.get("crawl")
    return crawl if isinstance(crawl, int) else 1


def read_jsonl_urls(path: Path, generation: int | None = None) -> Iterator[str]:
    """The ``url`` of every line of a repaired ``records.jsonl`` (of one ``crawl`` generation)."""
    for line in read_jsonl(path):
        if generation is None or crawl_of(line) == generation:
            yield line["url"]


def redirect_digest(target: str) -> str:
    """A redirect's content digest: its target, so a moved redirect counts as a change."""
    return hashlib.sha256(f"redirect {target}".encode()).hexdigest()


def visit_from_record(line: dict[str, Any]) -> Visit:
    """The visit a record describes (records of older versions have no validators)."""
    status = line.get("status")
    ok = line.get("error") is None and isinstance(status, int) and status < 400
    digest = line.get("sha256")
    if ok and 300 <= status < 400 and line.get("final_url"):  # type: ignore[operator]
        digest = redirect_digest(line["final_url"])
    fetched = _epoch(line.get("fetched_at"))
    return Visit(
        status,
        ok,
        digest,
        line.get("path"),
        line.get("etag"),
        line.get("last_modified"),
        fetched_at=fetched,
        changed_at=fetched,
    )


def _epoch(text: object) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0
