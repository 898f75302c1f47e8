"""The job's output files, opened together and flushed in one order.

Records, items (JSONL or CSV), content, page files and the WARC: the engine writes an outcome here
and the checkpoint flushes items and content before records, so a crash can repeat a page's items,
never lose them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crawler.core.content import PageContent
from crawler.core.record import Record
from crawler.sinks.content import ContentSink
from crawler.sinks.pages import PageStore
from crawler.sinks.records import LineSink, RecordSink
from crawler.sinks.table import CsvSink

if TYPE_CHECKING:  # warcio costs 30 ms of start-up: imported only by crawls that write WARC
    from crawler.sinks.warc import WarcSink

Mark = tuple[int, ...]  # per line sink, records last


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """Which files a crawl writes besides records and pages."""

    items: Literal["jsonl", "csv"] | None  # None: no items file (no extract rules, no parse hook)
    columns: tuple[str, ...]  # items.csv's columns
    warc: bool
    content: bool = False  # content.jsonl
    chunks: bool = False  # chunks.jsonl
    skip_near_duplicates: bool = False  # a near-duplicate page gets no content line
    near_index: bool = False  # simhash.jsonl: the near-duplicate index of a job that is not shared


class Output:
    """``OUT/records.jsonl``, ``OUT/items.*``, ``OUT/content.jsonl``, ``OUT/pages/`` and ``OUT/crawl.warc.gz``."""

    def __init__(self, settings: OutputSettings, out: Path, *, start_over: bool) -> None:
        self.pages = PageStore(out)
        self.records = RecordSink(out / "records.jsonl", truncate=start_over)
        self.items: RecordSink | CsvSink | None = None
        if settings.items == "csv":
            self.items = CsvSink(out / "items.csv", list(settings.columns), truncate=start_over)
        elif settings.items == "jsonl":
            self.items = RecordSink(out / "items.jsonl", truncate=start_over)
        self.content: ContentSink | None = None
        if settings.content:
            self.content = ContentSink(
                out,
                chunks=settings.chunks,
                index=settings.near_index,
                skip=settings.skip_near_duplicates,
                truncate=start_over,
            )
        self._lines: list[LineSink] = [
            *(self.content.sinks if self.content else ()),
            *([self.items] if self.items else ()),
        ]
        self.warc: WarcSink | None = None
        if settings.warc:
            from crawler.sinks.warc import WarcSink

            self.warc = WarcSink(out / "crawl.warc.gz", self.pages.executor)

    def write(self, record: Record, items: list[dict[str, Any]], content: PageContent | None = None) -> None:
        """Buffer the items, the content and the record (serialized now)."""
        if self.items is not None:
            for item in items:
                self.items.write(item)
        if content is not None and self.content is not None:
            self.content.write(record, content)
        self.records.write(record.as_json(with_items=self.items is not None))

    @property
    def pending_bytes(self) -> int:
        """Records and items waiting (content lines, tens of KB each, wait for the next tick: they
        would otherwise force a checkpoint every few pages)."""
        items = self.items.pending_bytes if self.items is not None else 0
        return self.records.pending_bytes + items

    def mark(self) -> Mark:
        """What is buffered now; taken before the frontier commits (see ``flush``)."""
        return *(sink.mark() for sink in self._lines), self.records.mark()

    def flush(self, mark: Mark) -> None:
        """Write what was buffered at ``mark``: items and content first, then records."""
        for sink, upto in zip(self._lines, mark, strict=False):
            sink.flush(upto)
        self.records.flush(mark[-1])

    def close(self, *, flush: bool) -> None:
        """Close every file; buffered lines are written only with ``flush`` (the frontier's
        last commit succeeded), since a record may never get ahead of the frontier."""
        try:
            for sink in self._lines:
                sink.close(flush=flush)
            self.records.close(flush=flush)
        finally:
            if self.warc is not None:
                self.warc.close()
            self.pages.close()
