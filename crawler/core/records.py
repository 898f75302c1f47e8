"""Reading a job's line files (``records.jsonl``, ``items.jsonl``) after :mod:`crawler.sinks.repair`
has made them whole: frontiers, re-crawls, merge and the report all read records through this."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson


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
