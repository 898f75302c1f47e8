"""``content.jsonl`` (one line per page with content), ``chunks.jsonl`` (its Markdown cut for
retrieval) and ``simhash.jsonl`` (the near-duplicate index of a job that is not shared: the first
URL of each distinct content, read back when the crawl resumes).

All three are :class:`~crawler.sinks.records.LineSink`\\ s flushed at checkpoints before the
records, like items. A re-crawl appends the lines of the pages that changed; :func:`keep_current`
then leaves each URL only its latest lines (an unchanged page keeps its line; a gone page loses it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from crawler.core.content import PageContent
from crawler.core.record import Record
from crawler.core.records import read_jsonl
from crawler.sinks.records import RecordSink

CONTENT, CHUNKS, INDEX = "content.jsonl", "chunks.jsonl", "simhash.jsonl"


class ContentSink:
    """Writes a page's content line (unless it is a near-duplicate the job skips), its chunks,
    and (``index``) its SimHash when it is the first of its kind."""

    def __init__(self, out: Path, *, chunks: bool, index: bool, skip: bool, truncate: bool) -> None:
        self.sinks = [RecordSink(out / CONTENT, truncate=truncate)]
        self._chunks = RecordSink(out / CHUNKS, truncate=truncate) if chunks else None
        self._index = RecordSink(out / INDEX, truncate=truncate) if index else None
        self.sinks += [s for s in (self._chunks, self._index) if s is not None]
        self._skip = skip

    def write(self, record: Record, content: PageContent) -> None:
        if content.simhash is not None and content.near_duplicate_of is None and self._index is not None:
            self._index.write({"url": record.url, "simhash": f"{content.simhash:016x}"})
        if self._skip and content.near_duplicate_of is not None:
            return
        self.sinks[0].write(content.line(record.url, record.final_url, record.crawl))
        if self._chunks is not None:
            for line in content.chunk_lines(record.url, record.crawl):
                self._chunks.write(line)


def read_index(out: Path) -> Iterator[tuple[str, int]]:
    """The (URL, SimHash) pairs a crawl of ``out`` saw first (the file is repaired on resume)."""
    return ((entry["url"], int(entry["simhash"], 16)) for entry in read_jsonl(out / INDEX))


def keep_current(out: Path, changed: set[str], generation: int) -> None:
    """After a re-crawl: a URL it found new, changed or gone keeps only the lines this crawl
    (``generation``) wrote for it (none when it is gone or is no page any more); any other URL
    keeps the lines of its last crawl that had content. One line per URL (per chunk) is kept, the
    last written. Rewritten through a temp file and a rename: a crash leaves the old or the new."""
    for name, key in ((CONTENT, _url), (CHUNKS, _url_and_chunk)):
        path = out / name
        if not path.exists():
            continue
        latest: dict[str, int] = {}
        last: dict[object, int] = {}
        for number, (entry, _) in enumerate(_lines(path)):
            url, crawl = entry["url"], int(entry.get("crawl", 1))
            if url in changed and crawl != generation:
                continue
            if crawl >= latest.get(url, 0):
                latest[url] = crawl
                last[key(entry)] = number
        temp = path.with_name(path.name + ".tmp")
        with open(temp, "wb") as f:
            for number, (entry, line) in enumerate(_lines(path)):
                if last.get(key(entry)) == number and int(entry.get("crawl", 1)) == latest[entry["url"]]:
                    f.write(line)
        os.replace(temp, path)


def tidy(out: Path, changed: set[str], generation: int, *, index: bool) -> str | None:
    """At the end of a re-crawl or a resumed crawl: :func:`keep_current`, then (``index``) the
    firsts of ``simhash.jsonl`` whose page no longer has a content line are forgotten, so no later
    page is marked as a copy of a page that is gone. Returns the warning when a file could not be
    rewritten (the old one stays whole)."""
    try:
        keep_current(out, changed, generation)
        if index:
            _forget_gone_firsts(out)
    except OSError as e:
        return f"cannot rewrite {out}/{CONTENT} ({e.strerror or e}): older lines of some pages stay in it"
    return None


def _forget_gone_firsts(out: Path) -> None:
    path = out / INDEX
    if not path.exists():
        return
    current = {entry["url"] for entry, _ in _lines(out / CONTENT)} if (out / CONTENT).exists() else set()
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as f:
        for entry, line in _lines(path):
            if entry["url"] in current:
                f.write(line)
    os.replace(temp, path)


def _url(entry: dict[str, Any]) -> object:
    return entry["url"]


def _url_and_chunk(entry: dict[str, Any]) -> object:
    return entry["url"], entry.get("chunk")


def _lines(path: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Every line with the object it holds (whole lines only: :mod:`crawler.sinks.repair` has
    set damaged ones aside when the crawl started)."""
    with open(path, "rb") as f:
        for line in f:
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("url"), str) and line.endswith(b"\n"):
                yield entry, line
