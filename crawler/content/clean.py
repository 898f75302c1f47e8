"""The chosen region's boilerplate removed: landmarks, controls and unlikely classes, then the
containers Readability's cleanConditionally drops (link-heavy lists, image strips, short blocks of
links), each step only when it leaves enough text. One selector query finds every candidate;
links and images are summed bottom-up, and text is read only where a rule needs it."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from crawler.content.signals import (
    JUNK_TAGS,
    MIN_BLOCK_CHARS,
    ancestors,
    below,
    class_weight,
    inside,
    unlikely,
    visible,
)

CONTAINERS = frozenset(["table", "ul", "ol", "div", "section"])
COUNTED = frozenset(("a", "img"))  # what cleanConditionally counts inside a container
# Swept from the chosen region in one query: landmarks and controls that are never content, and
# the containers that Readability's cleanConditionally judges. Python decides per node.
SWEEP = ", ".join(sorted(JUNK_TAGS | CONTAINERS | COUNTED | {"header", "[aria-hidden=true]", "[role]"}))
KEPT_SHORT = "p, pre, h1, h2, h3, h4, h5, h6"  # a short block holding one of these is not junk
MOST_TEXT = 0.5  # a boilerplate-looking node holding this share of the region's text is kept
MIN_LEFT_CHARS = 500  # what cleaning must leave of a region, or it is skipped (Readability's threshold)
JUNK_LEFT_SHARE = 0.3  # ... or, for junk by tag, role or class, this share of a short region's text
MAX_TABLES = 200  # tables of a region judged as data or layout (see _data_table_parts)
LIST_LINK_DENSITY = 0.5  # a list mostly of links (menus, "related" lists) is not the content


def sweep(region: LexborNode) -> None:
    """Remove boilerplate from the region: landmarks, controls and unlikely classes, then the
    containers Readability's cleanConditionally would drop; each step only when it leaves enough
    text (where Readability retries without it)."""
    found = below(region, SWEEP)
    if not found:
        return
    total = visible(region.text())
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
        elif unlikely(node) and (most is None or st.measure(node) < most):
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
            self.chars, self.commas = visible(text), text.count(",")
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
            stats[holder].linked += visible(node.text()) * (0.3 if href.startswith("#") else 1.0)
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
    """mem_ids of data tables, what they contain and what contains them: never cleaned away.
    Each table is judged by queries of its own subtree, so tables nested in tables cost quadratic
    time: past MAX_TABLES, tables are kept unjudged (a hostile page loses no time, and no text)."""
    keep: set[int] = set()
    tables = [n for n in found if n.tag == "table"]
    for judged, table in enumerate(tables):
        if table.mem_id in keep:
            continue  # inside a data table: kept with it
        if judged >= MAX_TABLES:
            keep.add(table.mem_id)
        elif _is_data_table(table):
            keep |= ancestors(table)
            keep.update(n.mem_id for n in table.css(", ".join(CONTAINERS)))
    return keep


def _is_data_table(table: LexborNode) -> bool:
    """Readability's guess that a table holds data rather than layout."""
    attrs = table.attributes
    if attrs.get("role") == "presentation" or attrs.get("datatable") == "0":
        return False
    if attrs.get("summary") or table.css_first("caption, thead, tfoot, colgroup, th") is not None:
        return True
    if below(table, "table"):
        return False
    rows = table.css("tr")
    return len(rows) >= 10 or any(len(r.css("td")) > 4 for r in rows[:5])


def _should_drop(node: LexborNode, st: _Stats) -> bool:
    """Readability's cleanConditionally tests, on the container's summed counts. Without links
    and with at most one image a block is kept, so its text is not even read."""
    weight = class_weight(node)
    if weight < 0:  # a class or id like "sidebar", or "meta" in id="metaclasses": code still stays
        return not inside(node, ("pre", "code")) and node.css_first("pre") is None
    if st.linked == 0 and st.img <= 1:
        return False
    chars = st.measure(node)
    if st.commas >= 10:
        return False
    if st.img > 1 and not inside(node, ("figure",)):
        paragraphs = len(below(node, "p"))  # none: text in divs, which Readability makes <p>s first
        if paragraphs and paragraphs / st.img < 0.5:
            return True
    density = min(st.linked / chars, 1.0) if chars else 0.0
    if chars < MIN_BLOCK_CHARS and density > 0 and (st.img == 0 or st.img > 2) and not below(node, KEPT_SHORT):
        return not inside(node, ("pre", "code"))
    if density <= 0.2 or node.css_first("pre") is not None:
        return False  # code is content however many links surround it (Sphinx grammar sections)
    if node.tag in ("ul", "ol") or sum(visible(x.text()) for x in below(node, "ul, ol")) > 0.9 * chars:
        return density > LIST_LINK_DENSITY
    return weight < 25 or density > 0.5
