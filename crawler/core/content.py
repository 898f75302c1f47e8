"""A page's main content as the crawl carries it: made where the page is parsed, checked against
the near-duplicate index and written to ``content.jsonl`` / ``chunks.jsonl`` by the engine.

Plain picklable data (it crosses the pipe from the parser process); :mod:`crawler.content` makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

METADATA = ("title", "description", "author", "published", "language", "canonical")


class Chunk(NamedTuple):
    """A piece of the page's Markdown for a retrieval index: its place (``number``, from 0), the
    headings it sits under (h1 > h2 > …), its text and word count."""

    number: int
    headings: tuple[str, ...]
    text: str
    words: int


@dataclass(slots=True)
class PageContent:
    """The main content of one page: Markdown and/or plain text, what ``<head>`` says about it,
    and a 64-bit SimHash of its text (None when near-duplicates are not looked for)."""

    markdown: str | None = None
    text: str | None = None
    metadata: dict[str, str | None] = field(default_factory=dict)  # the METADATA keys
    words: int = 0
    simhash: int | None = None
    chunks: list[Chunk] = field(default_factory=list)
    near_duplicate_of: str | None = None  # the first URL with this content (set by the engine)

    def line(self, url: str, final_url: str | None, crawl: int) -> dict[str, Any]:
        """The page's line of ``content.jsonl``."""
        out: dict[str, Any] = {"url": url, "final_url": final_url or url, "crawl": crawl}
        out.update((key, self.metadata.get(key)) for key in METADATA)
        if self.markdown is not None:
            out["markdown"] = self.markdown
        if self.text is not None:
            out["text"] = self.text
        out["words"] = self.words
        if self.simhash is not None:
            out["simhash"] = f"{self.simhash:016x}"
            out["near_duplicate_of"] = self.near_duplicate_of
        return out

    def chunk_lines(self, url: str, crawl: int) -> list[dict[str, Any]]:
        """The page's lines of ``chunks.jsonl``."""
        return [
            {
                "url": url,
                "chunk": c.number,
                "headings": list(c.headings),
                "text": c.text,
                "words": c.words,
                "crawl": crawl,
            }
            for c in self.chunks
        ]


class NearDuplicates(Protocol):
    """The job's index of first-seen contents: this process's, or a shared job's in Redis."""

    async def first(self, url: str, simhash: int) -> str | None:
        """The URL first seen with a SimHash within a few bits of ``simhash`` (never ``url``
        itself); None when this is the first, which it then becomes."""
        ...
