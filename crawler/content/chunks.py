"""Chunks of a Markdown document for retrieval indexes: pieces of about ``words`` words that start
at a heading or a block, each with the path of headings it sits under.

A retrieval index finds a chunk by its meaning and shows it alone, so a chunk should hold whole
thoughts: it never starts inside a paragraph or a list, never cuts a code block or a table unless
that block alone is too big (then each piece is valid Markdown: fences closed and reopened, the
table's header repeated), and consecutive chunks of one section share about ``overlap`` words
(whole trailing blocks or sentences of the previous chunk) so a sentence cut at the boundary is
still found with its context. The heading path is a field; heading lines stay in the text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from crawler.core.content import Chunk

TINY = 0.2  # a chunk with fewer than this share of `words` (its own, not the overlap) takes the next heading in

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\([^)]*\)")


class _Block(NamedTuple):
    kind: str  # "heading", "code", "table" or "text" (a paragraph, a list, a quote)
    text: str
    words: int
    path: tuple[str, ...]  # the headings it sits under (a heading: itself included)


def chunk(markdown: str, words: int = 400, overlap: int = 50) -> list[Chunk]:
    """The document's chunks of at most about ``words`` words, consecutive ones of a section
    sharing about ``overlap`` words (0: none). A block bigger than ``words`` is split alone.

    A heading starts a new chunk unless the chunk so far is tiny and the heading is a subsection
    of the chunk's own section (so every block of a chunk is under its heading path); a chunk
    that is full hands its trailing headings on to the next one."""
    if words < 1 or not 0 <= overlap < words:
        raise ValueError(f"chunks need words >= 1 and 0 <= overlap < words (got words={words}, overlap={overlap})")
    done: list[list[_Block]] = []
    current: list[_Block] = []
    start = 0  # current[:start] is the previous chunk's overlap
    size = own = 0  # words of current, and of current[start:]
    for block in _blocks(markdown, words, overlap):
        if block.kind == "heading" and (
            own >= TINY * words or not _inside(block.path, current[0].path if current else ())
        ):
            if own:
                done.append(current)
            current, start, size, own = [], 0, 0, 0
        elif own and size + block.words > words:
            keep = len(current)
            while keep > start and current[keep - 1].kind == "heading":
                keep -= 1
            if keep > start:
                done.append(current[:keep])
                carried = current[keep:]
                current = carried or _overlap(current, min(overlap, words - block.words))
                start = 0 if carried else len(current)
                size = sum(b.words for b in current)
                own = size if carried else 0
        current.append(block)
        size += block.words
        own += block.words
    if own:
        done.append(current)
    out = []
    for number, blocks in enumerate(done):
        text = "\n\n".join(block.text for block in blocks)
        out.append(Chunk(number, blocks[0].path, text, len(text.split())))
    return out


def _inside(path: tuple[str, ...], section: tuple[str, ...]) -> bool:
    """Whether a heading with this path is a subsection of ``section``."""
    return len(path) > len(section) and path[: len(section)] == section


def _overlap(previous: list[_Block], budget: int) -> list[_Block]:
    """The trailing blocks (or sentences) of the previous chunk in about ``budget`` words, back to
    its last heading at most; when not even a sentence fits, the last ``budget`` words of text."""
    taken: list[_Block] = []
    for block in reversed(previous):
        if budget <= 0 or block.kind == "heading":
            break
        if block.words <= budget:
            taken.append(block)
            budget -= block.words
            continue
        if block.kind == "text":
            tail = _tail(block.text, budget, whole=bool(taken))
            if tail:
                taken.append(block._replace(text=tail, words=len(tail.split())))
        break
    return taken[::-1]


def _tail(text: str, budget: int, *, whole: bool) -> str:
    """The text's last sentences in at most ``budget`` words; else its last words, unless ``whole``."""
    sentences = _SENTENCE_END.split(text)
    size = 0
    start = len(sentences)
    while start and size + len(sentences[start - 1].split()) <= budget:
        start -= 1
        size += len(sentences[start].split())
    if start < len(sentences):
        return " ".join(sentences[start:])
    return "" if whole else " ".join(text.split()[-budget:])


def _blocks(markdown: str, words: int, overlap: int) -> list[_Block]:
    """The document's blocks with their heading paths. A block of more than ``words`` words comes
    in pieces (text ones leave room for the overlap, which code and table pieces cannot carry)."""
    out: list[_Block] = []
    path: list[tuple[int, str]] = []
    for kind, lines in _raw_blocks(markdown.splitlines()):
        if kind == "heading":
            level, title = _heading(lines)
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, title))
        headings = tuple(title for _, title in path)
        text = "\n".join(lines)
        size = len(text.split())
        if size <= words or kind == "heading":
            out.append(_Block(kind, text, size, headings))
        else:
            budget = words - overlap if kind == "text" else words
            out += (_Block(kind, piece, len(piece.split()), headings) for piece in _split(kind, lines, budget))
    return out


def _raw_blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(kind, lines) of each block: fenced code to its closing fence, a table to its first blank
    line, a heading alone, else lines up to a blank line (a paragraph, a list, a quote)."""
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if not line.strip():
            i += 1
        elif fence:
            end = i + 1
            while end < len(lines) and not _closes(lines[end], fence[1]):
                end += 1
            out.append(("code", lines[i : end + 1]))
            i = end + 1
        elif _HEADING.fullmatch(line):
            out.append(("heading", [line]))
            i += 1
        elif i + 1 < len(lines) and _SETEXT.fullmatch(lines[i + 1]) and not lines[i].lstrip().startswith(("-", ">")):
            out.append(("heading", lines[i : i + 2]))
            i += 2
        else:
            kind = "table" if _table_starts(lines, i) else "text"
            end = i + 1
            while end < len(lines) and lines[end].strip() and (kind == "table" or not _starts_block(lines, end)):
                end += 1
            out.append((kind, lines[i:end]))
            i = end
    return out


def _closes(line: str, fence: str) -> bool:
    """Whether the line closes a code block opened by ``fence`` (the same character, as many or more)."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def _starts_block(lines: list[str], i: int) -> bool:
    """Whether line i interrupts a paragraph: a fence, a heading, or a table's header row."""
    line = lines[i]
    return bool(_FENCE.match(line) or _HEADING.fullmatch(line)) or _table_starts(lines, i)


def _table_starts(lines: list[str], i: int) -> bool:
    """Whether line i is a table's header row (a GFM delimiter row follows)."""
    return "|" in lines[i] and i + 1 < len(lines) and bool(_TABLE_DELIMITER.fullmatch(lines[i + 1]))


def _heading(lines: list[str]) -> tuple[int, str]:
    """A heading block's level and title (links as their text, images dropped)."""
    atx = _HEADING.fullmatch(lines[0])
    if atx:
        level, title = len(atx[1]), atx[2] or ""
    else:
        level, title = 1 if lines[1].strip()[0] == "=" else 2, lines[0]
    return level, _LINK.sub(lambda m: "" if m[1] else m[2], title).strip().rstrip("¶").strip()


def _split(kind: str, lines: list[str], words: int) -> list[str]:
    """A block too big for one chunk in pieces of at most ``words`` words where its lines allow:
    code between lines (each piece fenced), a table between rows (each with the header rows), text
    between lines, then sentences, then words."""
    if kind == "code":
        fence = _FENCE.match(lines[0])
        marker = fence[1] if fence else "```"
        body = lines[1:-1] if len(lines) > 1 and _closes(lines[-1], marker) else lines[1:]
        return [f"{lines[0]}\n{piece}\n{marker}" for piece in _pack([("\n", line) for line in body], words - 2)]
    if kind == "table":
        header = "\n".join(lines[:2])
        rows = [("\n", row) for row in lines[2:]]
        return [f"{header}\n{piece}" for piece in _pack(rows, words - len(header.split()))]
    units: list[tuple[str, str]] = []
    for line in lines:
        if len(line.split()) <= words:
            units.append(("\n", line))
            continue
        first = len(units)
        for sentence in _SENTENCE_END.split(line.strip()):
            tokens = sentence.split()
            units += ((" ", " ".join(tokens[i : i + words])) for i in range(0, len(tokens), words))
        units[first] = ("\n", units[first][1])  # the line's first piece starts a line
    return _pack(units, words)


def _pack(units: list[tuple[str, str]], budget: int) -> list[str]:
    """Consecutive units in groups of at most ``budget`` words (a bigger unit alone), each unit
    joined to the one before by its own separator (a new line, or a space inside a line)."""
    groups: list[str] = []
    size = 0
    for joiner, unit in units:
        n = len(unit.split())
        if not groups or size + n > budget:
            groups.append(unit)
            size = 0
        else:
            groups[-1] += joiner + unit
        size += n
    return groups
