"""The fenced code blocks of the project's Markdown (``README.md`` and ``docs/**/*.md``), each
with the marker comment that precedes it, so the docs' examples can be run and checked.

A marker is an HTML comment on the last non-blank line before the fence (invisible on GitHub and
in the built site): ``<!-- job -->``, ``<!-- runnable -->``, ``<!-- file: PATH -->``. What each
means is ``tests/test_docs_examples.py``'s (and ``docs/recipes/index.md`` says it for writers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*(?P<marker>.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path  # the Markdown file
    line: int  # the line of the opening fence (1-based)
    lang: str  # the fence's info word: "yaml", "sh", … ("" for none)
    marker: str  # the marker comment's text ("" for none)
    text: str  # the code, its fence's indentation removed, each line ending in "\n"

    @property
    def where(self) -> str:
        """``docs/x.md:12``: where a failure points."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def markdown_files() -> list[Path]:
    """README.md and every Markdown file under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> Iterator[Block]:
    """The page's fenced code blocks (``` or ~~~, indented ones in lists too), in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = "".join(line.removeprefix(indent) + "\n" for line in lines[i + 1 : end])
        yield Block(page, i + 1, opening["lang"].lower(), _marker_before(lines, i), body)
        i = end + 1


def all_blocks() -> list[Block]:
    return [b for page in markdown_files() for b in blocks(page)]


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _marker_before(lines: list[str], index: int) -> str:
    """The marker comment on the last non-blank line before ``index``, or ""."""
    for line in reversed(lines[:index]):
        if line.strip():
            found = _MARKER.match(line)
            return found["marker"] if found else ""
    return ""
