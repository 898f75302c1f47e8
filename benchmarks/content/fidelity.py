"""Markdown fidelity: does each <pre> of the main region come out as a fenced block with the same
text, and each table row as a GFM row with the same cells? Word F1 cannot see either."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html

from benchmarks.content.datasets import Page
from benchmarks.content.metrics import WORD_RE, strip_markdown

FENCE_OPEN = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")


@dataclass
class Fidelity:
    pages: int = 0
    pages_pre_ok: int = 0
    pre_total: int = 0
    pre_ok: int = 0
    pre_ok_ws: int = 0  # same text up to whitespace
    fences_with_lang: int = 0
    pages_with_tables: int = 0
    pages_tables_ok: int = 0
    tables_total: int = 0
    tables_ok: int = 0
    failures: list[str] = field(default_factory=list)


def fenced_blocks(md: str) -> Iterator[tuple[str, str]]:
    """(info string, content) of each fenced code block; content dedented by the fence's indent."""
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].lstrip(" ")
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[i]
            cut = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[cut:])
            i += 1
        i += 1
        yield info, "\n".join(body)


def main_region(html: str) -> Any:
    """The Sphinx page's main region, so navigation <pre>s and tables are not counted."""
    root = lxml.html.fromstring(html)
    found = root.xpath('//div[@role="main"] | //main | //div[@class="body"]')
    return found[0] if found else root


def cell_tokens(text: str) -> tuple[str, ...]:
    """A cell's words: compares cells regardless of inline formatting and spacing."""
    return tuple(w.lower() for w in WORD_RE.findall(text))


def md_table_rows(md: str) -> set[tuple[tuple[str, ...], ...]]:
    """Every GFM table row of md as a tuple of non-empty cells' words."""
    rows: set[tuple[tuple[str, ...], ...]] = set()
    for line in md.split("\n"):
        s = line.strip()
        if not s.startswith("|"):
            continue
        cells = re.split(r"(?<!\\)\|", strip_markdown(s).strip("|"))
        key = tuple(t for t in (cell_tokens(c) for c in cells) if t)
        if key:
            rows.add(key)
    return rows


def check_fidelity(page: Page, md: str, fid: Fidelity) -> None:
    """Add one page's <pre> and table results to fid."""
    region = main_region(page.html)
    _check_pres(page, region, md, fid)
    _check_tables(page, region, md, fid)


def _check_pres(page: Page, region: Any, md: str, fid: Fidelity) -> None:
    """Exact and whitespace-insensitive matches, so lost indentation shows apart from lost code."""
    # HTML drops one newline right after <pre>; libxml2 keeps it, so drop it here.
    pres = [pre.text_content().removeprefix("\n").rstrip("\n") for pre in region.iter("pre")]
    blocks = list(fenced_blocks(md))
    fid.fences_with_lang += sum(1 for info, _ in blocks if info)
    have = Counter(b.rstrip("\n") for _, b in blocks)
    have_ws = Counter(" ".join(b.split()) for _, b in blocks)
    ok = 0
    for text in pres:
        if have[text] > 0:
            have[text] -= 1
            ok += 1
        ws = " ".join(text.split())
        if have_ws[ws] > 0:
            have_ws[ws] -= 1
            fid.pre_ok_ws += 1
    fid.pages += 1
    fid.pre_total += len(pres)
    fid.pre_ok += ok
    if ok == len(pres):
        fid.pages_pre_ok += 1
    elif len(fid.failures) < 5:
        fid.failures.append(f"{page.name}: {ok}/{len(pres)} pre")


def _check_tables(page: Page, region: Any, md: str, fid: Fidelity) -> None:
    """A table passes only if all its rows survive: a half-converted table misleads a reader."""
    tables = list(region.iter("table"))
    if not tables:
        return
    fid.pages_with_tables += 1
    md_rows = md_table_rows(md)
    page_ok = True
    for table in tables:
        fid.tables_total += 1
        good = _table_ok(table, md_rows)
        fid.tables_ok += good
        page_ok &= good
    fid.pages_tables_ok += page_ok
    if not page_ok and len(fid.failures) < 10:
        fid.failures.append(f"{page.name}: table rows missing")


def _table_ok(table: Any, md_rows: set[tuple[tuple[str, ...], ...]]) -> bool:
    """Every non-empty row of the HTML table appears, cell for cell, among the Markdown rows."""
    for tr in table.iter("tr"):
        key = tuple(t for t in (cell_tokens(c.text_content()) for c in tr if c.tag in ("td", "th")) if t)
        if key and key not in md_rows:
            return False
    return True
