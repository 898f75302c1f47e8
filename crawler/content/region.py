"""The main content of a page, on the selectolax tree the parser already holds.

readability-lxml chooses the best region of the libraries measured (benchmarks/results/
2026-12-06-content-extractors.md) but costs ~30 ms a page for its own lxml parse; this is the same
idea (Readability.js's grabArticle and cleanConditionally) cut down to what costs little on a
lexbor tree. A selector query costs ~10 ns per element and alternative, so the whole page is
queried only a few times; Python looks only at the blocks of text and the containers it returns.
The region is then cleaned (:mod:`.clean`); what marks boilerplate is in :mod:`.signals`.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.content.clean import MIN_LEFT_CHARS, MOST_TEXT, sweep
from crawler.content.signals import (
    MIN_BLOCK_CHARS,
    TOP,
    ancestors,
    below,
    class_weight,
    link_density,
    unlikely,
    visible,
)

SEMANTIC = "main, [role=main], article"
SCRIPTS = "script, style, noscript, template"  # never text: dropped from the whole page first
SCORED = "p, pre, td, li, br"  # blocks whose text is scored (a <br>: the block it breaks)
BR_BLOCKS = frozenset(("div", "section", "article", "main", "blockquote"))
LEAF_DIVS = "div:not(:has(blockquote, dl, div, img, ol, p, pre, table, ul))"  # Readability's div-to-p
PARAGRAPH_SHARE = 0.5  # below this share of the page's text in paragraphs, divs count as paragraphs
TAG_SCORE = {"div": 5.0, "article": 5.0, "main": 5.0, "section": 3.0, "pre": 3.0, "td": 3.0, "blockquote": 3.0}
TAG_SCORE |= dict.fromkeys(("address", "ol", "ul", "dl", "dd", "dt", "li", "form"), -3.0)
TAG_SCORE |= dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6", "th"), -5.0)
MAX_CANDIDATES = 5  # link density (a query per node) is measured for the best five, as Readability
EXCLUDED = -1e9  # the score of a container that is boilerplate by its tag, role or class
DIVIDERS = (1.0, 2.0, 6.0)  # a block's score reaches its parent, grandparent /2, great-grandparent /6
SEMANTIC_SHARE = 0.5  # a <main>/<article> is the region when it holds at least this much of the text
# Blocks nested in blocks (a <td> in a <td> …) are each read whole: a hostile page nested
# thousands deep would cost quadratic time. Past this much text read per character of the page,
# the page is not scored (its body is its region); real pages read 1-3 times theirs.
READ_BUDGET, MIN_BUDGET = 40, 100_000
MAX_ANCESTORS = 64  # how far up a candidate's boilerplate ancestors are looked for
SENTENCE_END = re.compile(r"\.( |$)")


def main_region(tree: LexborHTMLParser) -> LexborNode:
    """The node holding the page's main content, boilerplate removed (the tree is modified).

    A single <main>/[role=main]/<article> with most of the text is taken as is; otherwise the
    blocks of text are scored as Readability does and the best-scored container wins.
    Falls back to the body (or the document's root) when nothing scores.
    """
    body = tree.body
    if body is None:
        root = tree.root
        return root if root is not None else tree.create_node("body")
    for node in reversed(below(body, SCRIPTS)):
        node.decompose()
    semantic = _single_semantic(body)
    if semantic is not None and _holds_most(semantic):
        region = semantic
    else:
        region = _grab_article(body)
        if semantic is not None and region.mem_id in ancestors(semantic):
            region = semantic  # the page says where its content is: not wider than that
    sweep(region)
    return region


class TooDeep(Exception):
    """The page's blocks are nested too deep to score in reasonable time."""


def _in_boilerplate(node: LexborNode, page_chars: int) -> bool:
    """Whether node sits inside a container that is boilerplate by tag, role or class and does not
    hold most of the page's text (Readability removes those before scoring; checking the few
    candidates' ancestors costs less than a pass over the page)."""
    cur = node.parent
    for _ in range(MAX_ANCESTORS):
        if cur is None or cur.tag in TOP:
            break
        if unlikely(cur) and visible(cur.text()) < MOST_TEXT * page_chars:
            return True
        cur = cur.parent
    return False


def _single_semantic(body: LexborNode) -> LexborNode | None:
    """The page's only <main>, else only [role=main], else only <article>."""
    found = body.css(SEMANTIC)
    kinds = ["main" if n.tag == "main" else "role" if n.attrs.get("role") == "main" else "article" for n in found]
    for kind in ("main", "role", "article"):
        if kinds.count(kind) == 1:
            return found[kinds.index(kind)]
    return None


def _holds_most(node: LexborNode) -> bool:
    """Whether node's text is most of the page's: the text beside each of its ancestors (menus,
    sidebars, footers) is summed, which costs less than the whole body's text."""
    inside = visible(node.text())
    outside = 0
    cur = node
    while cur.parent is not None and cur.tag not in ("body", "html"):
        sibling = cur.parent.child
        while sibling is not None:
            if sibling.mem_id != cur.mem_id:
                outside += visible(sibling.text())
            sibling = sibling.next
        cur = cur.parent
    return inside >= SEMANTIC_SHARE * (inside + outside)


def _score_blocks(body: LexborNode, page_chars: int) -> tuple[dict[int, float], dict[int, LexborNode]]:
    """Readability's scores: each paragraph adds 1 + commas + min(len/100, 3) to its parent, half
    to its grandparent, a sixth to its great-grandparent; boilerplate containers (and what is above
    them) get nothing. Text broken by <br> in a div counts as paragraphs of that div; divs with no
    block inside count as paragraphs when the page's <p>s hold little of its text (Readability
    turns both into <p>; the second needs a costly query, so only such pages pay for it)."""
    scorer = _Scorer(page_chars)
    broken: dict[int, LexborNode] = {}  # blocks of text broken by <br>, and how many breaks
    breaks: dict[int, int] = {}
    for found in body.css(SCORED):
        if found.tag != "br":
            scorer.credit(found, found.parent, 1)
            continue
        parent = found.parent
        if parent is not None and parent.tag in BR_BLOCKS:
            broken[parent.mem_id] = parent
            breaks[parent.mem_id] = breaks.get(parent.mem_id, 0) + 1
    for key, parent in broken.items():
        scorer.credit(parent, parent, max(1, breaks[key] // 2))
    if scorer.chars < PARAGRAPH_SHARE * page_chars:
        for div in body.css(LEAF_DIVS):
            scorer.credit(div, div.parent, 1)
    return scorer.scores, scorer.nodes


class _Scorer:
    """Readability's content scores of containers, keyed by mem_id."""

    def __init__(self, page_chars: int) -> None:
        self.scores: dict[int, float] = {}
        self.nodes: dict[int, LexborNode] = {}
        self.chars = 0  # text scored so far
        self.seen: set[int] = set()
        self.budget = READ_BUDGET * page_chars + MIN_BUDGET  # text read, at most: see TooDeep

    def credit(self, block: LexborNode, first: LexborNode | None, paragraphs: int) -> None:
        """Add block's points to `first` and the two containers above it."""
        if block.mem_id in self.seen:
            return
        self.seen.add(block.mem_id)
        text = block.text()
        self.budget -= len(text)
        if self.budget < 0:
            raise TooDeep
        chars = visible(text)
        if chars < MIN_BLOCK_CHARS:
            return
        self.chars += chars
        points = paragraphs + text.count(",") + min(chars // 100, 3 * paragraphs)
        node = first
        for divider in DIVIDERS:
            if node is None or node.tag in TOP:
                break
            key = node.mem_id
            if key not in self.scores:
                self.scores[key] = (
                    EXCLUDED if unlikely(node) else TAG_SCORE.get(node.tag or "", 0.0) + class_weight(node)
                )
                self.nodes[key] = node
            if self.scores[key] <= EXCLUDED / 2:
                break
            self.scores[key] += points / divider
            node = node.parent


def _grab_article(body: LexborNode) -> LexborNode:
    """The best-scored container (score × (1 − link density)) that is not inside boilerplate,
    with its parent's children that score close to it or are text-rich paragraphs. As in
    Readability's retry, boilerplate is ignored when what is left is too short; the body when
    nothing scores."""
    page_chars = visible(body.text())
    try:
        scores, nodes = _score_blocks(body, page_chars)
    except TooDeep:
        return body
    final: dict[int, float] = {}
    for key in sorted(scores, key=scores.__getitem__, reverse=True)[:MAX_CANDIDATES]:
        if scores[key] <= 0 or (len(final) >= 5 and scores[key] <= min(final.values())):
            break  # link density only lowers a score: nothing further can enter the top five
        node = nodes[key]
        final[key] = scores[key] * (1 - link_density(node, visible(node.text())))
    if not final:
        return body
    ranked = sorted(final, key=final.__getitem__, reverse=True)
    clean = {k: (0.0 if _in_boilerplate(nodes[k], page_chars) else v) for k, v in final.items()}
    top_key = max(clean, key=clean.__getitem__)
    if clean[top_key] > 0 and visible(nodes[top_key].text()) >= MIN_LEFT_CHARS:
        final = clean
    else:
        top_key = ranked[0]
    top = _widen(nodes[top_key], top_key, final, nodes, scores)
    if top.tag in TOP:
        return top
    return _with_siblings(top, final.get(top.mem_id, scores.get(top.mem_id, 0.0)), scores)


def _widen(
    top: LexborNode, top_key: int, final: dict[int, float], nodes: dict[int, LexborNode], scores: dict[int, float]
) -> LexborNode:
    """Readability's corrections: a common ancestor of three near-equal top candidates, a parent
    scoring higher, an only child's parent."""
    best = final[top_key]
    close = [ancestors(nodes[k]) for k, s in final.items() if k != top_key and s >= 0.75 * best]
    if len(close) >= 3:
        cur = top.parent
        while cur is not None and cur.tag not in TOP:
            if sum(cur.mem_id in a for a in close) >= 3:
                top = cur
                break
            cur = cur.parent
    last = final.get(top.mem_id, scores.get(top.mem_id, 0.0))
    cur = top.parent
    while cur is not None and cur.tag not in TOP:
        score = final.get(cur.mem_id, scores.get(cur.mem_id))
        if score is not None:
            if score < last / 3:
                break
            if score > last:
                top = cur
                break
            last = score
        cur = cur.parent
    parent = top.parent
    while parent is not None and parent.tag not in TOP and _element_children(parent) == 1:
        top, parent = parent, parent.parent
    return top


def _element_children(node: LexborNode) -> int:
    """How many element children node has."""
    count = 0
    child = node.child
    while child is not None:
        count += child.is_element_node
        child = child.next
    return count


def _with_siblings(top: LexborNode, top_score: float, scores: dict[int, float]) -> LexborNode:
    """top alone, or its parent stripped to top and the siblings that belong with it."""
    parent = top.parent
    if parent is None or parent.tag in ("html", "#document"):
        return top
    threshold = max(10.0, top_score * 0.2)
    top_class = top.attributes.get("class") or ""
    dropped: list[LexborNode] = []
    kept = 0
    child = parent.child
    while child is not None:
        if child.mem_id != top.mem_id:
            if _sibling_belongs(child, top_class, top_score, threshold, scores):
                kept += 1
            elif child.is_element_node or (child.text() or "").strip():
                dropped.append(child)
        child = child.next
    if not kept:
        return top
    for node in dropped:
        node.decompose()
    return parent


def _sibling_belongs(
    node: LexborNode, top_class: str, top_score: float, threshold: float, scores: dict[int, float]
) -> bool:
    """Readability's test for a sibling of the top candidate."""
    if not node.is_element_node:
        return False
    bonus = top_score * 0.2 if top_class and node.attributes.get("class") == top_class else 0.0
    if scores.get(node.mem_id, EXCLUDED) + bonus >= threshold:
        return True
    if node.tag != "p":
        return False
    text = node.text()
    chars = visible(text)
    density = link_density(node, chars)
    if chars > 70:
        return density < 0.25
    return chars > 0 and density == 0 and SENTENCE_END.search(text.strip()) is not None
