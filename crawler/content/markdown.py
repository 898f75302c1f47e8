"""GitHub-flavoured Markdown of a content node (html-to-markdown), and the plain text of it.

html-to-markdown keeps every table and (with the two fixes here) every code block of the docs
pages measured, at ~2 ms a region; it resolves relative links and images against base_url.
"""

from __future__ import annotations

import re

import html_to_markdown
from selectolax.lexbor import LexborNode

LANGUAGE = re.compile(r"(?:^|\s)(?:highlight|language|lang)-([A-Za-z0-9_+#.-]+)")
PLAIN = frozenset(("default", "none", "text", "plain", "plaintext", "nohighlight"))
# The region is already cleaned: html-to-markdown's own clean-up pass and its image-size inference
# only cost time (same output on the 300 docs-corpus regions, 2.2 instead of 2.4 ms).
NO_PREPROCESSING = html_to_markdown.PreprocessingOptions(enabled=False)

FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$\n?", re.M | re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]*)\]\((?:<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+)>")
HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+|[ \t]+#+[ \t]*$", re.M)
QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
BULLET = re.compile(r"^[ \t]*[-*+][ \t]+", re.M)
RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M)
TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*\n", re.M)
TABLE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$", re.M)
EMPHASIS = re.compile(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
TRAILING = re.compile(r"[ \t]+$", re.M)
BLANKS = re.compile(r"\n{3,}")


def to_markdown(node: LexborNode, base_url: str) -> str:
    """Markdown of node (modified on the way: links in <pre> unwrapped, code languages marked)."""
    _fix_code(node)
    options = html_to_markdown.ConversionOptions(
        extract_metadata=False, base_url=base_url, preprocessing=NO_PREPROCESSING, infer_dimensions=False
    )
    return str(html_to_markdown.convert(node.html or "", options).content).strip() + "\n"


def _fix_code(node: LexborNode) -> None:
    """A link inside <pre> would break the fence ([name](url) in the code), so keep only its text;
    a language named on the <pre>, its <code> or the wrappers around it (Sphinx's
    div.highlight-LANG) becomes language-LANG on the <pre>, which html-to-markdown puts on the fence."""
    for a in reversed(node.css("pre a")):
        a.unwrap()
    for pre in node.css("pre"):
        language = _language(pre)
        if language:
            pre.attrs["class"] = "language-" + language


def _language(pre: LexborNode) -> str | None:
    """The first language named on pre, its first <code>, its parent or grandparent."""
    code = pre.css_first("code")
    parent = pre.parent
    grandparent = parent.parent if parent is not None else None
    for el in (pre, code, parent, grandparent):
        if el is None:
            continue
        m = LANGUAGE.search(el.attributes.get("class") or "")
        if m and m.group(1).lower() not in PLAIN:
            return m.group(1)
    return None


def to_text(markdown: str) -> str:
    """Plain text of Markdown: link text without targets, no images, no heading, emphasis, quote,
    list or table syntax, code blocks kept as they are, one blank line between blocks."""
    parts: list[str] = []
    pos = 0
    for m in FENCE.finditer(markdown):
        parts.append(_plain(markdown[pos : m.start()]))
        parts.append("\n\n" + m.group(2).rstrip("\n") + "\n\n")
        pos = m.end()
    parts.append(_plain(markdown[pos:]))
    return BLANKS.sub("\n\n", "".join(parts)).strip() + "\n"


def _plain(text: str) -> str:
    """to_text of Markdown without fenced code."""
    text = IMAGE.sub("", text)
    text = LINK.sub(r"\1", text)
    text = AUTOLINK.sub(r"\1", text)
    text = TABLE_SEPARATOR.sub("", text)
    text = TABLE_ROW.sub(lambda m: "\t".join(c.strip() for c in m.group(1).split(" | ")), text)
    text = RULE.sub("", text)
    text = HEADING.sub("", text)
    text = QUOTE.sub("", text)
    text = BULLET.sub("", text)
    text = INLINE_CODE.sub(r"\2", text)
    text = EMPHASIS.sub(r"\2", text)
    text = ESCAPE.sub(r"\1", text)
    return TRAILING.sub("", text)
