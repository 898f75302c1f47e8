"""The main content of a page, on the selectolax tree the parser already holds.

readability-lxml chooses the best region of the libraries measured (benchmarks/results/
2026-12-06-content-extractors.md) but costs ~30 ms a page for its own lxml parse; this is the same
idea (Readability.js's grabArticle and cleanConditionally) cut down to what costs little on a
lexbor tree. A selector query costs ~10 ns per element and alternative, so the whole page is
queried only a few times; Python looks only at the blocks of text and the containers it returns.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

SEMANTIC = "main, [role=main], article"
# Swept from the chosen region in one query: landmarks and controls that are never content, and
# the containers that Readability's cleanConditionally judges. Python decides per node.
JUNK_TAGS = frozenset(["nav", "footer", "aside", "form", "button", "select"])
CONTAINERS = frozenset(["table", "ul", "ol", "div", "section"])
COUNTED = frozenset(("a", "img"))  # what cleanConditionally counts inside a container
SWEEP = ", ".join(sorted(JUNK_TAGS | CONTAINERS | COUNTED | {"header", "[aria-hidden=true]", "[role]"}))
JUNK_ROLES = frozenset(
    ["navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu", "menubar"]
)
# Readability's unlikely candidates (class or id), and the words that clear them.
UNLIKELY = re.compile(
    r"banner|breadcrumb|cookie|consent|gdpr|menu|sidebar|social|related|comment|disqus|footer|header|"
    r"popup|modal|newsletter|subscribe|skip-?link|sponsor|pagination|pager|shoutbox|skyscraper|agegate|remark|"
    r"replies|combx|community|extra|legends|rss|supplemental|cover-wrap|ai2html|yom-remote|ad-break|navbar|"
    r"byline|dateline|writtenby|author|"
    r"(?:^|\s)nav|-ad-|(?:^|\s)ad(?:$|\s|-)",
    re.I,
)
SHARE, SHARE_MAX_CHARS = re.compile(r"share", re.I), 500
OK_MAYBE = re.compile(r"and|article|body|column|content|main|mathjax|shadow", re.I)
NEGATIVE = re.compile(
    r"-ad-|hidden|^hid$| hid$| hid |^hid |banner|combx|comment|com-|contact|footer|gdpr|masthead|media|meta|"
    r"outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|widget",
    re.I,
)
POSITIVE = re.compile(r"article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story", re.I)
SCRIPTS = "script, style, noscript, template"  # never text: dropped from the whole page first
SCORED = "p, pre, td, li, br"  # blocks whose text is scored (a <br>: the block it breaks)
BR_BLOCKS = frozenset(("div", "section", "article", "main", "blockquote"))
LEAF_DIVS = "div:not(:has(blockquote, dl, div, img, ol, p, pre, table, ul))"  # Readability's div-to-p
PARAGRAPH_SHARE = 0.5  # below this share of the page's text in paragraphs, divs count as paragraphs
KEPT_SHORT = "p, pre, h1, h2, h3, h4, h5, h6"  # a short block holding one of these is not junk
TAG_SCORE = {"div": 5.0, "article": 5.0, "main": 5.0, "section": 3.0, "pre": 3.0, "td": 3.0, "blockquote": 3.0}
TAG_SCORE |= dict.fromkeys(("address", "ol", "ul", "dl", "dd", "dt", "li", "form"), -3.0)
TAG_SCORE |= dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6", "th"), -5.0)
MAX_CANDIDATES = 5  # link density (a query per node) is measured for the best five, as Readability
EXCLUDED = -1e9  # the score of a container that is boilerplate by its tag, role or class
DIVIDERS = (1.0, 2.0, 6.0)  # a block's score reaches its parent, grandparent /2, great-grandparent /6
MIN_BLOCK_CHARS = 25
SEMANTIC_SHARE = 0.5  # a <main>/<article> is the region when it holds at least this much of the text
MOST_TEXT = 0.5  # a boilerplate-looking node holding this share of the region's text is kept
MIN_LEFT_CHARS = 500  # what cleaning must leave of a region, or it is skipped (Readability's threshold)
JUNK_LEFT_SHARE = 0.3  # ... or, for junk by tag, role or class, this share of a short region's text
LIST_LINK_DENSITY = 0.5  # a list mostly of links (menus, "related" lists) is not the content
SENTENCE_END = re.compile(r"\.( |$)")
TOP = ("html", "body", "#document", None)


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
    for node in reversed(_below(body, SCRIPTS)):
        node.decompose()
    semantic = _single_semantic(body)
    if semantic is not None and _holds_most(semantic):
        region = semantic
    else:
        region = _grab_article(body)
        if semantic is not None and region.mem_id in _ancestors(semantic):
            region = semantic  # the page says where its content is: not wider than that
    _sweep(region)
    return region


def _in_boilerplate(node: LexborNode, page_chars: int) -> bool:
    """Whether node sits inside a container that is boilerplate by tag, role or class and does not
    hold most of the page's text (Readability removes those before scoring; checking the few
    candidates' ancestors costs less than a pass over the page)."""
    cur = node.parent
    while cur is not None and cur.tag not in TOP:
        if _unlikely(cur) and _chars(cur.text()) < MOST_TEXT * page_chars:
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
    inside = _chars(node.text())
    outside = 0
    cur = node
    while cur.parent is not None and cur.tag not in ("body", "html"):
        sibling = cur.parent.child
        while sibling is not None:
            if sibling.mem_id != cur.mem_id:
                outside += _chars(sibling.text())
            sibling = sibling.next
        cur = cur.parent
    return inside >= SEMANTIC_SHARE * (inside + outside)


def _below(node: LexborNode, selector: str) -> list[LexborNode]:
    """Matches of selector under node: lexbor's css() also returns node itself when it matches."""
    found = node.css(selector)
    if found and found[0].mem_id == node.mem_id:
        return found[1:]
    return found


def _chars(text: str) -> int:
    """Visible characters of a text: spaces and newlines not counted (pages indent with a lot of
    them), in C string counts rather than a split and join, which cost ~10x on a long text."""
    return len(text) - text.count(" ") - text.count("\n")


def _names(node: LexborNode) -> str:
    """class and id of node, for the class-name rules."""
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}"


def _unlikely(node: LexborNode) -> bool:
    """Boilerplate by tag, role or class/id (unless the class/id also says content)."""
    tag = node.tag or ""
    attrs = node.attributes
    if tag in JUNK_TAGS or (tag == "header" and not _inside(node, ("article", "main"))):
        return True
    if attrs.get("aria-hidden") == "true" or (attrs.get("role") or "") in JUNK_ROLES:
        return True
    names = _names(node)
    if SHARE.search(names) and _chars(node.text()) < SHARE_MAX_CHARS:
        return True  # share buttons, as Readability removes them: only when small
    return _unlikely_names(names) and tag not in ("main", "article")


@lru_cache(maxsize=4096)
def _unlikely_names(names: str) -> bool:
    """Whether class and id say boilerplate and not content (cached: pages repeat their classes)."""
    return bool(UNLIKELY.search(names)) and not OK_MAYBE.search(names)


def _inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    """Whether an ancestor of node has one of these tags."""
    cur = node.parent
    while cur is not None:
        if cur.tag in tags:
            return True
        cur = cur.parent
    return False


def _class_weight(node: LexborNode) -> float:
    """±25 for each of class and id that says boilerplate or content."""
    attrs = node.attributes
    return _name_weight(attrs.get("class")) + _name_weight(attrs.get("id"))


@lru_cache(maxsize=4096)
def _name_weight(name: str | None) -> float:
    """-25 if the class or id says boilerplate, +25 if it says content (both: 0)."""
    if not name:
        return 0.0
    return 25.0 * (bool(POSITIVE.search(name)) - bool(NEGATIVE.search(name)))


def _link_density(node: LexborNode, chars: int) -> float:
    """Share of node's text inside links (in-page '#' links count 0.3, as in Readability)."""
    if chars == 0:
        return 0.0
    linked = 0.0
    for a in node.css("a"):
        href = a.attrs.get("href") or ""
        linked += _chars(a.text()) * (0.3 if href.startswith("#") else 1.0)
    return min(linked / chars, 1.0)


def _score_blocks(body: LexborNode, page_chars: int) -> tuple[dict[int, float], dict[int, LexborNode]]:
    """Readability's scores: each paragraph adds 1 + commas + min(len/100, 3) to its parent, half
    to its grandparent, a sixth to its great-grandparent; boilerplate containers (and what is above
    them) get nothing. Text broken by <br> in a div counts as paragraphs of that div; divs with no
    block inside count as paragraphs when the page's <p>s hold little of its text (Readability
    turns both into <p>; the second needs a costly query, so only such pages pay for it)."""
    scorer = _Scorer()
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

    def __init__(self) -> None:
        self.scores: dict[int, float] = {}
        self.nodes: dict[int, LexborNode] = {}
        self.chars = 0  # text scored so far
        self.seen: set[int] = set()

    def credit(self, block: LexborNode, first: LexborNode | None, paragraphs: int) -> None:
        """Add block's points to `first` and the two containers above it."""
        if block.mem_id in self.seen:
            return
        self.seen.add(block.mem_id)
        text = block.text()
        chars = _chars(text)
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
                    EXCLUDED if _unlikely(node) else TAG_SCORE.get(node.tag or "", 0.0) + _class_weight(node)
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
    page_chars = _chars(body.text())
    scores, nodes = _score_blocks(body, page_chars)
    final: dict[int, float] = {}
    for key in sorted(scores, key=scores.__getitem__, reverse=True)[:MAX_CANDIDATES]:
        if scores[key] <= 0 or (len(final) >= 5 and scores[key] <= min(final.values())):
            break  # link density only lowers a score: nothing further can enter the top five
        node = nodes[key]
        final[key] = scores[key] * (1 - _link_density(node, _chars(node.text())))
    if not final:
        return body
    ranked = sorted(final, key=final.__getitem__, reverse=True)
    clean = {k: (0.0 if _in_boilerplate(nodes[k], page_chars) else v) for k, v in final.items()}
    top_key = max(clean, key=clean.__getitem__)
    if clean[top_key] > 0 and _chars(nodes[top_key].text()) >= MIN_LEFT_CHARS:
        final = clean
    else:
        top_key = ranked[0]
    top = _widen(nodes[top_key], top_key, final, nodes, scores)
    if top.tag in TOP:
        return top
    return _with_siblings(top, final.get(top.mem_id, scores.get(top.mem_id, 0.0)), scores)


def _ancestors(node: LexborNode) -> set[int]:
    """mem_ids of node and everything above it."""
    out: set[int] = set()
    cur: LexborNode | None = node
    while cur is not None:
        out.add(cur.mem_id)
        cur = cur.parent
    return out


def _widen(
    top: LexborNode, top_key: int, final: dict[int, float], nodes: dict[int, LexborNode], scores: dict[int, float]
) -> LexborNode:
    """Readability's corrections: a common ancestor of three near-equal top candidates, a parent
    scoring higher, an only child's parent."""
    best = final[top_key]
    close = [_ancestors(nodes[k]) for k, s in final.items() if k != top_key and s >= 0.75 * best]
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
    chars = _chars(text)
    density = _link_density(node, chars)
    if chars > 70:
        return density < 0.25
    return chars > 0 and density == 0 and SENTENCE_END.search(text.strip()) is not None


def _sweep(region: LexborNode) -> None:
    """Remove boilerplate from the region: landmarks, controls and unlikely classes, then the
    containers Readability's cleanConditionally would drop; each step only when it leaves enough
    text (where Readability retries without it)."""
    found = _below(region, SWEEP)
    if not found:
        return
    total = _chars(region.text())
    stats = _container_stats(region, found)
    judged = [n for n in found if n.mem_id in stats]  # links and images are only counted
    gone, junk = _junk(judged, stats, total, None)
    if not _leaves_enough(total, sum(stats[n.mem_id].measure(n) for n in junk), JUNK_LEFT_SHARE):
        gone, junk = _junk(judged, stats, total, MOST_TEXT * total)  # Readability's retry, in short
    alive = [n for n in judged if n.mem_id not in gone]
    keep = _data_table_parts(alive)
    doubtful = [
        n for n in reversed(alive) if n.mem_id not in keep and n.tag in CONTAINERS and _should_drop(n, stats[n.mem_id])
    ]
    flagged = {n.mem_id for n in doubtful}
    doubtful = [n for n in doubtful if not _chain_hits(stats, stats[n.mem_id].parent, flagged)]
    both = doubtful + [n for n in junk if not _chain_hits(stats, stats[n.mem_id].parent, flagged)]
    if _leaves_enough(total, sum(stats[n.mem_id].measure(n) for n in both), 1.0):
        junk = both
    for node in reversed(junk):
        node.decompose()


def _junk(
    judged: list[LexborNode], stats: dict[int, _Stats], total: int, most: float | None
) -> tuple[set[int], list[LexborNode]]:
    """The outermost boilerplate nodes, and the mem_ids of everything they hold. With `most`, a
    node holding that much text is not junk itself (what is inside it is still judged)."""
    gone: set[int] = set()
    junk: list[LexborNode] = []
    for node in judged:
        st = stats[node.mem_id]
        if st.parent in gone:
            gone.add(node.mem_id)
        elif _unlikely(node) and (most is None or st.measure(node) < most):
            gone.add(node.mem_id)
            junk.append(node)
    return gone, junk


def _leaves_enough(total: int, removed: int, share: float) -> bool:
    """Whether removing this much text leaves enough of the region: Readability retries without
    the step when its result is under 500 characters; junk by tag, role or class also goes from a
    short page when this share of its text stays."""
    left = total - removed
    return left >= MIN_LEFT_CHARS or left >= share * total > 0


def _chain_hits(stats: dict[int, _Stats], key: int | None, flagged: set[int]) -> bool:
    """Whether a container on the chain from `key` upwards is flagged."""
    while key is not None:
        if key in flagged:
            return True
        key = stats[key].parent
    return False


class _Stats:
    """What cleanConditionally asks of a container: links and images summed bottom-up from one
    query; its text read only when a rule needs it (most containers of a docs page have none)."""

    __slots__ = ("chars", "commas", "img", "linked", "parent")

    def __init__(self, parent: int | None) -> None:
        self.linked = 0.0
        self.img = 0
        self.chars = self.commas = -1
        self.parent = parent  # the nearest enclosing container's mem_id

    def measure(self, node: LexborNode) -> int:
        """The container's text length (read once)."""
        if self.chars < 0:
            text = node.text()
            self.chars, self.commas = _chars(text), text.count(",")
        return self.chars


def _container_stats(region: LexborNode, found: list[LexborNode]) -> dict[int, _Stats]:
    """Per container (and junk candidate) of the region: the link text and images inside it,
    each counted once where it sits, then added up the chain of containers, deepest first."""
    ids = {n.mem_id for n in found if n.tag not in COUNTED}
    stop = region.mem_id
    stats = {n.mem_id: _Stats(_nearest(n, ids, stop)) for n in found if n.mem_id in ids}
    for node in found:
        tag = node.tag
        if tag not in COUNTED:
            continue
        holder = _nearest(node, ids, stop)
        if holder is None:
            continue
        if tag == "a":
            href = node.attrs.get("href") or ""
            stats[holder].linked += _chars(node.text()) * (0.3 if href.startswith("#") else 1.0)
        else:
            stats[holder].img += 1
    for node in reversed(found):
        child = stats.get(node.mem_id)
        if child is not None and child.parent is not None:
            stats[child.parent].linked += child.linked
            stats[child.parent].img += child.img
    return stats


def _nearest(node: LexborNode, ids: set[int], stop: int) -> int | None:
    """mem_id of node's nearest ancestor among ids, below the node `stop`."""
    cur = node.parent
    while cur is not None:
        key = cur.mem_id
        if key == stop:
            return None
        if key in ids:
            return key
        cur = cur.parent
    return None


def _data_table_parts(found: list[LexborNode]) -> set[int]:
    """mem_ids of data tables, what they contain and what contains them: never cleaned away."""
    keep: set[int] = set()
    for table in found:
        if table.tag == "table" and _is_data_table(table):
            keep |= _ancestors(table)
            keep.update(n.mem_id for n in table.css(", ".join(CONTAINERS)))
    return keep


def _is_data_table(table: LexborNode) -> bool:
    """Readability's guess that a table holds data rather than layout."""
    attrs = table.attributes
    if attrs.get("role") == "presentation" or attrs.get("datatable") == "0":
        return False
    if attrs.get("summary") or table.css_first("caption, thead, tfoot, colgroup, th") is not None:
        return True
    if _below(table, "table"):
        return False
    rows = table.css("tr")
    return len(rows) >= 10 or any(len(r.css("td")) > 4 for r in rows[:5])


def _should_drop(node: LexborNode, st: _Stats) -> bool:
    """Readability's cleanConditionally tests, on the container's summed counts. Without links
    and with at most one image a block is kept, so its text is not even read."""
    weight = _class_weight(node)
    if weight < 0:  # a class or id like "sidebar", or "meta" in id="metaclasses": code still stays
        return not _inside(node, ("pre", "code")) and node.css_first("pre") is None
    if st.linked == 0 and st.img <= 1:
        return False
    chars = st.measure(node)
    if st.commas >= 10:
        return False
    if st.img > 1 and not _inside(node, ("figure",)):
        paragraphs = len(_below(node, "p"))  # none: text in divs, which Readability makes <p>s first
        if paragraphs and paragraphs / st.img < 0.5:
            return True
    density = min(st.linked / chars, 1.0) if chars else 0.0
    if chars < MIN_BLOCK_CHARS and density > 0 and (st.img == 0 or st.img > 2) and not _below(node, KEPT_SHORT):
        return not _inside(node, ("pre", "code"))
    if density <= 0.2 or node.css_first("pre") is not None:
        return False  # code is content however many links surround it (Sphinx grammar sections)
    if node.tag in ("ul", "ol") or sum(_chars(x.text()) for x in _below(node, "ul, ol")) > 0.9 * chars:
        return density > LIST_LINK_DENSITY
    return weight < 25 or density > 0.5
