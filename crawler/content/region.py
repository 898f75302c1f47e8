"""The main content of a page, on the selectolax tree the parser already holds.

readability-lxml chooses the best region of the libraries measured (benchmarks/results/
2026-12-06-content-extractors.md) but costs ~30 ms a page for its own lxml parse; this is the same
idea (Readability.js's grabArticle) cut down to what costs little on a lexbor tree: CSS selectors
run in C do the filtering, Python only scores the few blocks that hold text.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Never content: scripts, controls, landmarks that are not the main one, hidden subtrees.
JUNK = (
    "script, style, noscript, template, svg, canvas, button, iframe, object, embed, input, select, "
    "textarea, nav, footer, aside, dialog, [hidden], [aria-hidden=true], [aria-modal], "
    '[style*="display:none"], [style*="display: none"], '
    + ", ".join(
        f"[role={role}]"
        for role in ("navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu")
    )
)
# Readability's unlikely candidates, as substrings of class or id (matched in C, case-insensitive).
UNLIKELY_WORDS = (
    "banner breadcrumb cookie consent gdpr menu sidebar share social related comment disqus "
    "footer header popup modal newsletter subscribe skip-link skiplink sponsor "
    "pagination pager shoutbox skyscraper agegate remark replies combx community"
).split()
UNLIKELY = ", ".join(
    [f"[{attr}*={w} i]" for w in UNLIKELY_WORDS for attr in ("class", "id")]
    + [f'[{attr}^=nav i], [{attr}*=" nav" i], [{attr}*=navbar i]' for attr in ("class", "id")]
    + ['[class~=ad], [class^="ad-"], [class*=" ad-"], [class*="-ad-"], [id^="ad-"], [id~=ad]']
)
OK_MAYBE = re.compile(r"and|article|body|column|content|main|mathjax|shadow", re.I)
NEGATIVE = re.compile(
    r"-ad-|hidden|^hid$| hid$| hid |^hid |banner|combx|comment|com-|contact|footer|gdpr|masthead|media|meta|"
    r"outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|widget",
    re.I,
)
POSITIVE = re.compile(r"article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story", re.I)
SEMANTIC = ("main", "[role=main]", "article")
# Blocks whose text is scored: paragraphs, and divs used as paragraphs (no block inside).
SCORED = "p, pre, td, li, div:not(:has(blockquote, dl, div, img, ol, p, pre, table, ul, section))"
KEPT_SHORT = ("p", "pre", "h1", "h2", "h3", "h4", "h5", "h6")  # a short block with these is not junk
CLEANED = "form, fieldset, table, ul, ol, div, section"
IN_CODE = f":is(pre, code) :is({CLEANED})"
TAG_SCORE = {"div": 5.0, "article": 5.0, "main": 5.0, "section": 3.0, "pre": 3.0, "td": 3.0, "blockquote": 3.0}
TAG_SCORE |= dict.fromkeys(("address", "ol", "ul", "dl", "dd", "dt", "li", "form"), -3.0)
TAG_SCORE |= dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6", "th"), -5.0)
DIVIDERS = (1.0, 2.0, 6.0)  # a block's score reaches its parent, grandparent /2, great-grandparent /6
MIN_BLOCK_CHARS = 25
LIST_LINK_DENSITY = 0.5  # a list mostly of links (menus, "related" lists) is not the content
MOST_TEXT = 0.5  # an unlikely-looking node holding this share of the page's text is kept
MIN_LEFT_CHARS, MIN_LEFT_SHARE = 500, 0.3  # what cleaning must leave of a region, or it is skipped
SEMANTIC_SHARE = 0.5  # a <main>/<article> is the region when it holds at least this much of the text
SENTENCE_END = re.compile(r"\.( |$)")


def main_region(tree: LexborHTMLParser) -> LexborNode:
    """The node holding the page's main content, boilerplate removed (the tree is modified).

    A single <main>/[role=main]/<article> with most of the text is taken as is; otherwise the
    blocks of text are scored as Readability does and the best-scored container wins.
    """
    body = tree.body
    if body is None:
        return tree.root if tree.root is not None else tree.create_node("body")
    _decompose_all(_below(body, JUNK))
    semantic = _single_semantic(body)
    _remove_unlikely(body, semantic)
    if semantic is not None and _chars(semantic) >= SEMANTIC_SHARE * _chars(body):
        region = semantic
    else:
        region = _grab_article(body)
    _clean_conditionally(region)
    return region


def _below(node: LexborNode, selector: str) -> list[LexborNode]:
    """Matches of selector under node: lexbor's css() also returns node itself when it matches."""
    found = node.css(selector)
    if found and found[0].mem_id == node.mem_id:
        return found[1:]
    return found


def _decompose_all(nodes: list[LexborNode]) -> None:
    """Remove nodes, deepest first: a descendant is freed with its ancestor, so it must go first."""
    for node in reversed(nodes):
        node.decompose()


def _single_semantic(body: LexborNode) -> LexborNode | None:
    """The page's only <main>, else only [role=main], else only <article>."""
    for sel in SEMANTIC:
        found = body.css(sel)
        if len(found) == 1:
            return found[0]
    return None


def _remove_unlikely(body: LexborNode, keep: LexborNode | None) -> None:
    """Drop nodes whose class or id says boilerplate (menus, banners, comments…) unless they also
    say content, contain the semantic region, or sit in a table or code (Readability's rules), or
    hold most of the page's text (a class name like "PageBuilder-pageRow" matches "pager"; where
    Readability then retries without this step, we keep such a node)."""
    spared = set() if keep is None else _ancestors(keep)
    most = MOST_TEXT * _chars(body)
    for node in reversed(_below(body, UNLIKELY)):
        if node.mem_id in spared or node.tag in ("a", "main", "article"):
            continue
        attrs = node.attributes
        names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if OK_MAYBE.search(names) or _inside(node, ("table", "code", "pre")) or _chars(node) >= most:
            continue
        node.decompose()


def _ancestors(node: LexborNode) -> set[int]:
    """mem_ids of node and everything above it."""
    out: set[int] = set()
    cur: LexborNode | None = node
    while cur is not None:
        out.add(cur.mem_id)
        cur = cur.parent
    return out


def _inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    """Whether an ancestor of node has one of these tags."""
    cur = node.parent
    while cur is not None:
        if cur.tag in tags:
            return True
        cur = cur.parent
    return False


def _chars(node: LexborNode) -> int:
    """Visible text length with whitespace runs counted once (what Readability's innerText gives)."""
    return len(" ".join(node.text().split()))


def _class_weight(node: LexborNode) -> float:
    """±25 for each of class and id that says boilerplate or content."""
    weight = 0.0
    attrs = node.attributes
    for name in (attrs.get("class"), attrs.get("id")):
        if name:
            if NEGATIVE.search(name):
                weight -= 25
            if POSITIVE.search(name):
                weight += 25
    return weight


def _link_density(node: LexborNode, chars: int) -> float:
    """Share of node's text inside links (in-page '#' links count 0.3, as in Readability)."""
    if chars == 0:
        return 0.0
    linked = 0.0
    for a in node.css("a"):
        href = a.attributes.get("href") or ""
        linked += len(a.text()) * (0.3 if href.startswith("#") else 1.0)
    return min(linked / chars, 1.0)


def _score_blocks(body: LexborNode) -> tuple[dict[int, float], dict[int, LexborNode]]:
    """Readability's scores: each block of text adds 1 + commas + min(len/100, 3) to its parent,
    half to its grandparent, a sixth to its great-grandparent."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for block in body.css(SCORED):
        text = block.text()
        chars = len(" ".join(text.split()))
        if chars < MIN_BLOCK_CHARS:
            continue
        points = 1.0 + text.count(",") + min(chars // 100, 3)
        node = block.parent
        for divider in DIVIDERS:
            if node is None or node.tag in ("html", "#document", None):
                break
            key = node.mem_id
            if key not in scores:
                scores[key] = TAG_SCORE.get(node.tag or "", 0.0) + _class_weight(node)
                nodes[key] = node
            scores[key] += points / divider
            node = node.parent
    return scores, nodes


def _grab_article(body: LexborNode) -> LexborNode:
    """The best-scored container (score × (1 − link density)), with its parent's children that
    score close to it or are text-rich paragraphs; the body when nothing scores."""
    scores, nodes = _score_blocks(body)
    final: dict[int, float] = {}
    for key in sorted(scores, key=scores.__getitem__, reverse=True):
        if len(final) >= 5 and scores[key] <= min(final.values()):
            break  # link density only lowers a score: nothing further can enter the top five
        node = nodes[key]
        final[key] = scores[key] * (1 - _link_density(node, _chars(node)))
    if not final:
        return body
    top_key = max(final, key=final.__getitem__)
    top = _widen(nodes[top_key], top_key, final, nodes, scores)
    if top.tag in ("body", "html"):
        return top
    return _with_siblings(top, final.get(top.mem_id, scores.get(top.mem_id, 0.0)), scores)


def _widen(
    top: LexborNode, top_key: int, final: dict[int, float], nodes: dict[int, LexborNode], scores: dict[int, float]
) -> LexborNode:
    """Readability's corrections: a common ancestor of three near-equal top candidates, a parent
    scoring higher, an only child's parent."""
    best = final[top_key]
    close = [nodes[k] for k, s in final.items() if k != top_key and s >= 0.75 * best]
    if len(close) >= 3:
        close_ancestors = [_ancestors(n) for n in close]
        cur = top.parent
        while cur is not None and cur.tag not in ("body", "html"):
            if sum(cur.mem_id in a for a in close_ancestors) >= 3:
                top = cur
                break
            cur = cur.parent
    last = final.get(top.mem_id, scores.get(top.mem_id, 0.0))
    cur = top.parent
    while cur is not None and cur.tag not in ("body", "html"):
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
    while parent is not None and parent.tag not in ("body", "html") and _element_children(parent) == 1:
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
    _decompose_all(dropped)
    return parent


def _sibling_belongs(
    node: LexborNode, top_class: str, top_score: float, threshold: float, scores: dict[int, float]
) -> bool:
    """Readability's test for a sibling of the top candidate."""
    if not node.is_element_node:
        return False
    bonus = top_score * 0.2 if top_class and node.attributes.get("class") == top_class else 0.0
    if scores.get(node.mem_id, -1e9) + bonus >= threshold:
        return True
    if node.tag != "p":
        return False
    text = " ".join(node.text().split())
    density = _link_density(node, len(text))
    if len(text) > 80:
        return density < 0.25
    return bool(text) and density == 0 and SENTENCE_END.search(text) is not None


def _clean_conditionally(region: LexborNode) -> None:
    """Inside the region, drop blocks that look like link lists, forms or ads rather than text
    (Readability's cleanConditionally, with its counts taken in one selector query per block).
    When that would leave too little text, nothing is dropped (Readability retries without it)."""
    keep = _data_table_parts(region)
    keep.update(n.mem_id for n in region.css(IN_CODE))
    drops = [n for n in reversed(_below(region, CLEANED)) if n.mem_id not in keep and _should_drop(n)]
    if not drops:
        return
    ids = {n.mem_id for n in drops}
    outermost = [n for n in drops if not _has_ancestor_in(n, ids, region.mem_id)]
    total = _chars(region)
    left = total - sum(_chars(n) for n in outermost)
    if left >= MIN_LEFT_CHARS or left >= MIN_LEFT_SHARE * total:
        for node in outermost:
            node.decompose()


def _counts_any(counts: dict[str, int], tags: tuple[str, ...]) -> bool:
    """Whether any of these tags was counted."""
    return any(counts.get(t) for t in tags)


def _has_ancestor_in(node: LexborNode, ids: set[int], stop: int) -> bool:
    """Whether an ancestor of node below the node `stop` is one of ids."""
    cur = node.parent
    while cur is not None and cur.mem_id != stop:
        if cur.mem_id in ids:
            return True
        cur = cur.parent
    return False


def _data_table_parts(region: LexborNode) -> set[int]:
    """mem_ids of data tables, what they contain and what contains them: never cleaned away."""
    keep: set[int] = set()
    for table in region.css("table"):
        if _is_data_table(table):
            keep |= _ancestors(table)
            keep.update(n.mem_id for n in table.css(CLEANED))
    return keep


def _is_data_table(table: LexborNode) -> bool:
    """Readability's guess that a table holds data rather than layout."""
    attrs = table.attributes
    if attrs.get("role") == "presentation" or attrs.get("datatable") == "0":
        return False
    if attrs.get("summary") or table.css_first("caption, thead, tfoot, colgroup, th") is not None:
        return True
    if table.css_first("table") is not None:
        return False
    rows = table.css("tr")
    return len(rows) >= 10 or any(len(r.css("td")) > 4 for r in rows[:5])


def _should_drop(node: LexborNode) -> bool:
    """The conditions of Readability's cleanConditionally that cost one pass over the block."""
    weight = _class_weight(node)
    if weight < 0:
        return True
    text = node.text()
    if text.count(",") >= 10:
        return False
    counts: dict[str, int] = {}
    linked = 0
    for el in _below(node, "p, img, li, input, embed, object, iframe, a, ul, ol, pre, h1, h2, h3, h4, h5, h6"):
        tag = el.tag or ""
        counts[tag] = counts.get(tag, 0) + 1
        if tag == "a":
            linked += len(el.text())
    chars = len(" ".join(text.split()))
    density = min(linked / chars, 1.0) if chars else 0.0
    is_list = node.tag in ("ul", "ol") or (
        counts.get("li", 0) > 0 and sum(_chars(x) for x in _below(node, "ul, ol")) > 0.9 * chars
    )
    p, img, li = counts.get("p", 0), counts.get("img", 0), counts.get("li", 0) - 100
    if img > 1 and p / img < 0.5 and not _inside(node, ("figure",)):
        return True
    if counts.get("input", 0) > p // 3:
        return True
    embeds = counts.get("embed", 0) + counts.get("object", 0) + counts.get("iframe", 0)
    if (embeds == 1 and chars < 75) or embeds > 1:
        return True
    if is_list:
        return density > LIST_LINK_DENSITY
    if li > p:
        return True
    if chars < MIN_BLOCK_CHARS and (img == 0 or img > 2) and not _counts_any(counts, KEPT_SHORT):
        return True
    return (weight < 25 and density > 0.2) or (weight >= 25 and density > 0.5)
