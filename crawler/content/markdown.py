"""GitHub-flavoured Markdown of a content node (html-to-markdown), and the plain text of it.

html-to-markdown keeps every table and (with the two fixes here) every code block of the docs
pages measured, at ~2 ms a region; it resolves relative links and images against base_url.
"""

from __future__ import annotations

import re

import html_to_markdown as h2m
from selectolax.lexbor import LexborNode

from crawler.content.signals import below
from crawler.core.urls import C0_SPACE

LANGUAGE = re.compile(r"(?:^|\s)(?:highlight|language|lang)-([A-Za-z0-9_+#.-]+)")
PLAIN = frozenset(("default", "none", "text", "plain", "plaintext", "nohighlight"))
# The region is already cleaned: html-to-markdown's own clean-up pass and its image-size inference
# only cost time (same output on the 300 docs-corpus regions, 2.2 instead of 2.4 ms).
NO_PREPROCESSING = h2m.PreprocessingOptions(enabled=False, preset=h2m.PreprocessingPreset.STANDARD)

PERMALINKS = "a.headerlink, a.anchor-link, a.anchorjs-link, a.header-anchor, a[href^='#']"
UNSAFE_SCHEMES = frozenset(("javascript", "vbscript", "data", "file"))
URL_BLANKS = str.maketrans("", "", "\t\n\r")
MAX_UNWRAPPED = 3000  # spans unwrapped per page (docs pages: a median of 13, at most ~11,000)
PERMALINK_TEXT = frozenset(("", "¶", "#", "§", "🔗", "¤"))
FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$\n?", re.M | re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]*)\]\((?:<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+)>")
EMPHASIS = re.compile(r"(\*{1,3})(?=[^\s*])([^*\n]+?)(?<=\S)\1")  # html-to-markdown writes * and **
INLINE_CODE = re.compile(r"(`+)([^`\n]+?)\1")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
RULE = re.compile(r"(?:[-*_][ \t]*){3,}")
TABLE_SEPARATOR = re.compile(r"\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?")


def to_markdown(node: LexborNode, base_url: str) -> str:
    """Markdown of node (modified on the way: links in <pre> unwrapped, code languages marked)."""
    _prepare(node)
    # Every enum is given as its member (the converter's defaults): given as a string, each call
    # matches it to its enum again (135 µs of a docs page's ~2 ms; 13 µs as members).
    options = h2m.ConversionOptions(
        extract_metadata=False,
        base_url=base_url,
        preprocessing=NO_PREPROCESSING,
        infer_dimensions=False,
        tier_strategy=h2m.TierStrategy.TIER1,
        heading_style=h2m.HeadingStyle.ATX,
        list_indent_type=h2m.ListIndentType.SPACES,
        highlight_style=h2m.HighlightStyle.DOUBLE_EQUAL,
        whitespace_mode=h2m.WhitespaceMode.NORMALIZED,
        newline_style=h2m.NewlineStyle.SPACES,
        code_block_style=h2m.CodeBlockStyle.BACKTICKS,
        inline_data_media=h2m.InlineDataMedia.KEEP,
        hidden_content=h2m.HiddenContent.DROP,
        url_escape_style=h2m.UrlEscapeStyle.ANGLE,
        link_style=h2m.LinkStyle.INLINE,
        output_format=h2m.OutputFormat.MARKDOWN,
    )
    return str(h2m.convert(node.html or "", options).content).strip() + "\n"


def _prepare(node: LexborNode) -> None:
    """A link inside <pre> would break the fence ([name](url) in the code), so keep only its text;
    a language named on the <pre>, its <code> or the wrappers around it (Sphinx's
    div.highlight-LANG) becomes language-LANG on the <pre>, which html-to-markdown puts on the fence.
    Spans go last: they carry no Markdown, only highlighting (a code block's tokens) and
    styling, yet they are a third of a docs page's elements and of the converter's time; and
    around them the converter broke inline code in two at a line break of the source (103 of the
    docs corpus's 2,386 pages)."""
    for a in reversed(node.css("pre a")):
        a.unwrap()
    for a in node.css(PERMALINKS):  # a heading's "¶" link to itself is no content
        if (a.text() or "").strip() in PERMALINK_TEXT:
            a.decompose()
    # A script link in Markdown is a script link in a chat. Only a URL with a colon has a scheme:
    # the selector leaves out the relative links that are most of a docs page's.
    for a in reversed(node.css('a[href*=":"]')):
        if _unsafe(a.attrs.get("href")):
            a.unwrap()
    for img in node.css('img[src*=":"]'):
        if _unsafe(img.attrs.get("src")):
            img.decompose()
    for pre in node.css("pre"):
        language = _language(pre)
        if language:
            pre.attrs["class"] = "language-" + language
    # Not a span the converter would hide (hidden, display:none…): its text would show. Only spans
    # of text (no element inside: a code token, a word): unwrapping one that holds elements costs as
    # much as what it holds, quadratic time for spans nested thousands deep in broken HTML.
    for span in below(node, "span:not([hidden]):not([style]):not(:has(*))")[:MAX_UNWRAPPED]:
        span.unwrap()


def _unsafe(url: str | None) -> bool:
    """A link or image source that runs code or embeds a document (``javascript:``, ``data:``…):
    the Markdown keeps its text, not its target."""
    scheme, colon, _ = (url or "").strip(C0_SPACE).partition(":")
    # A browser drops tabs and line breaks anywhere in a URL: "java\tscript:" is a script URL too.
    return bool(colon) and scheme.translate(URL_BLANKS).lower() in UNSAFE_SCHEMES


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
    list or table syntax, code blocks kept as they are, one blank line between blocks.

    A few regular expressions over the whole text, then one pass over its lines: no second parse
    (~0.3 ms for the 16 kB of Markdown of a docs page)."""
    parts: list[str] = []
    pos = 0
    if "```" in markdown or "~~~" in markdown:
        for m in FENCE.finditer(markdown):
            parts.append(_plain(markdown[pos : m.start()]))
            parts.append(m.group(2).rstrip("\n"))
            pos = m.end()
    parts.append(_plain(markdown[pos:]))
    return "\n\n".join(p for p in parts if p) + "\n"


def _plain(text: str) -> str:
    """to_text of Markdown without fenced code."""
    if "![" in text:
        text = IMAGE.sub("", text)
    if "](" in text:
        text = LINK.sub(r"\1", text)
    if "<" in text:
        text = AUTOLINK.sub(r"\1", text)
    if "`" in text:
        text = INLINE_CODE.sub(r"\2", text)
    if "*" in text:
        text = EMPHASIS.sub(r"\2", text)
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _plain_line(raw.strip())
        if line is not None and (line or (lines and lines[-1])):
            lines.append(line)
    out = "\n".join(lines).strip()
    return ESCAPE.sub(r"\1", out) if "\\" in out else out


def _plain_line(line: str) -> str | None:
    """One stripped line without its block syntax; None for a line that is only syntax."""
    first = line[:1]
    if first in "|-:" and "|" in line and TABLE_SEPARATOR.fullmatch(line):
        return None
    if first == "|" and line.endswith("|") and len(line) > 1:
        return "\t".join(cell.strip() for cell in line[1:-1].split(" | "))
    if first == "#":
        rest = line.lstrip("#")
        if len(line) - len(rest) <= 6 and rest[:1] in (" ", "\t", ""):
            return rest.strip()
    elif first == ">":
        return line.lstrip("> \t")
    elif first in "-*+_" and first:
        if RULE.fullmatch(line):
            return None
        if first != "_" and line[1:2] in (" ", "\t"):
            return line[2:].lstrip()
    return line
