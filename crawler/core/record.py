"""The record: one per URL attempted, success or failure, one line of ``records.jsonl``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crawler.core.errors import FetchError


@dataclass(slots=True)
class Record:
    """What became of one URL. ``as_json`` gives the line's fields, in the documented order
    (``meta`` and ``priority`` only when a hook set them, ``near_duplicate_of`` and ``identity``
    only when set)."""

    url: str
    depth: int
    parent: str | None
    attempts: int
    fetched_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    elapsed_ms: float | None = None
    final_url: str | None = None
    status: int | None = None
    error: FetchError | None = None
    content_type: str | None = None
    bytes: int = 0
    sha256: str | None = None
    etag: str | None = None  # the validators a re-crawl sends back
    last_modified: str | None = None
    path: str | None = None
    title: str | None = None
    proxy: str | None = None
    items: int = 0
    extract_errors: list[str] = field(default_factory=list)
    crawl: int = 1  # the job's generation (1, then one more per re-crawl)
    change: str = "new"  # against the URL's last visit: new, changed, unchanged, gone
    rendered: bool = False  # loaded in the browser (render:)
    transport: str | None = None  # what fetched it: aiohttp or curl (None: rendered, or no answer)
    http_version: str | None = None  # of the answer: "1.1", "2", "3"
    identity: int | None = None  # the identity fetched as (identities:), never its cookies
    meta: dict[str, Any] | None = None  # a hook's data for the URL, kept so a re-crawl has it again
    priority: int = 0
    near_duplicate_of: str | None = None  # content: the first URL whose main text is nearly this page's

    @property
    def ok(self) -> bool:
        """A page: 2xx, or a re-crawl's 304 (the page of the last visit stands)."""
        return self.error is None and self.status is not None and (200 <= self.status < 300 or self.status == 304)

    def as_json(self, with_items: bool) -> dict[str, Any]:
        """The record's JSON object; ``items`` only for jobs that extract, ``extract_errors`` for
        them and for a page whose content could not be made."""
        line: dict[str, Any] = {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "error": self.error.as_record() if self.error is not None else None,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "depth": self.depth,
            "parent": self.parent,
            "fetched_at": self.fetched_at,
            "elapsed_ms": self.elapsed_ms,
            "path": self.path,
            "title": self.title,
            "attempts": self.attempts,
            "proxy": self.proxy,
            "crawl": self.crawl,
            "change": self.change,
            "rendered": self.rendered,
            "transport": self.transport,
            "http_version": self.http_version,
        }
        if with_items:
            line["items"], line["extract_errors"] = self.items, self.extract_errors
        elif self.extract_errors:
            line["extract_errors"] = self.extract_errors
        if self.meta:
            line["meta"] = self.meta
        if self.priority:
            line["priority"] = self.priority
        if self.near_duplicate_of:
            line["near_duplicate_of"] = self.near_duplicate_of
        if self.identity is not None:
            line["identity"] = self.identity
        return line
