"""What marks a node of a page as boilerplate or as content: Readability's class and id rules,
landmarks, link density, and text measured in visible characters. Shared by the choice of the
main region (:mod:`.region`) and its cleaning (:mod:`.clean`)."""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborNode

JUNK_TAGS = frozenset(["nav", "footer", "aside", "form", "button", "select"])
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
MIN_BLOCK_CHARS = 25  # shorter blocks of text do not count (Readability's threshold)
TOP = ("html", "body", "#document", None)


def below(node: LexborNode, selector: str) -> list[LexborNode]:
    """Matches of selector under node: lexbor's css() also returns node itself when it matches."""
    found = node.css(selector)
    if found and found[0].mem_id == node.mem_id:
        return found[1:]
    return found


def visible(text: str) -> int:
    """Visible characters of a text: spaces and newlines not counted (pages indent with a lot of
    them), in C string counts rather than a split and join, which cost ~10x on a long text."""
    return len(text) - text.count(" ") - text.count("\n")


def _names(node: LexborNode) -> str:
    """class and id of node, for the class-name rules."""
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}"


def unlikely(node: LexborNode) -> bool:
    """Boilerplate by tag, role or class/id (unless the class/id also says content)."""
    tag = node.tag or ""
    attrs = node.attributes
    if tag in JUNK_TAGS:
        return True
    if tag == "header":  # the site's header, or the article's own (its title): by where it is
        return not inside(node, ("article", "main"))
    if attrs.get("aria-hidden") == "true" or (attrs.get("role") or "") in JUNK_ROLES:
        return True
    names = _names(node)
    if _shares(names) and visible(node.text()) < SHARE_MAX_CHARS:
        return True  # share buttons, as Readability removes them: only when small
    return _unlikely_names(names) and tag not in ("main", "article")


@lru_cache(maxsize=4096)
def _shares(names: str) -> bool:
    return SHARE.search(names) is not None


@lru_cache(maxsize=4096)
def _unlikely_names(names: str) -> bool:
    """Whether class and id say boilerplate and not content (cached: pages repeat their classes)."""
    return bool(UNLIKELY.search(names)) and not OK_MAYBE.search(names)


def inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    """Whether an ancestor of node has one of these tags."""
    cur = node.parent
    while cur is not None:
        if cur.tag in tags:
            return True
        cur = cur.parent
    return False


def class_weight(node: LexborNode) -> float:
    """±25 for each of class and id that says boilerplate or content."""
    attrs = node.attributes
    return _name_weight(attrs.get("class")) + _name_weight(attrs.get("id"))


@lru_cache(maxsize=4096)
def _name_weight(name: str | None) -> float:
    """-25 if the class or id says boilerplate, +25 if it says content (both: 0)."""
    if not name:
        return 0.0
    return 25.0 * (bool(POSITIVE.search(name)) - bool(NEGATIVE.search(name)))


def link_density(node: LexborNode, chars: int) -> float:
    """Share of node's text inside links (in-page '#' links count 0.3, as in Readability)."""
    if chars == 0:
        return 0.0
    linked = 0.0
    for a in node.css("a"):
        href = a.attrs.get("href") or ""
        linked += visible(a.text()) * (0.3 if href.startswith("#") else 1.0)
    return min(linked / chars, 1.0)


def ancestors(node: LexborNode) -> set[int]:
    """mem_ids of node and everything above it."""
    out: set[int] = set()
    cur: LexborNode | None = node
    while cur is not None:
        out.add(cur.mem_id)
        cur = cur.parent
    return out
