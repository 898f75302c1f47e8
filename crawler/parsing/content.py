"""A fetched page's tree and, made at most once, its content: for the crawl (``content:``) and for a
``parse`` hook (``page.markdown``) alike.

The content is cut out of the tree (its boilerplate removed), so while the tree is still read (by
the hook that asked) it is made from a copy; the crawl asks last and lets it use the tree itself.
A page served as Markdown is parsed as the HTML it renders to (for its links and title) and its
Markdown is its content as is.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from crawler.content.settings import HOOK_DEFAULT, ContentSettings
from crawler.core.content import PageContent
from crawler.core.response import is_markdown
from crawler.parsing.page import Fetched
from crawler.parsing.parse import base_url, decode_html, parse_document

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


class ContentMaker:
    """Parses ``fetched`` (``tree``) and makes its content on demand, once."""

    def __init__(self, fetched: Fetched, settings: ContentSettings | None) -> None:
        self._fetched = fetched
        self._settings = settings or HOOK_DEFAULT
        self._markdown: str | None = None
        if is_markdown(fetched.content_type):
            text = decode_html(fetched.body, fetched.content_type)
            self._markdown = text if isinstance(text, str) else text.decode("utf-8", "replace")
            self.tree = LexborHTMLParser(_renderer().render(self._markdown))
        else:
            self.tree = parse_document(fetched.body, fetched.content_type)
        self._content: PageContent | None = None
        self._problem: str | None = None

    @property
    def heading(self) -> str | None:
        """A Markdown page's title: its first h1 (HTML pages have ``<title>``)."""
        node = self.tree.css_first("h1") if self._markdown is not None else None
        return (" ".join(node.text().split()) or None) if node is not None else None

    def content(self) -> PageContent:
        """The page's content, from a copy of the tree (the caller still reads it); raises what
        extraction raised."""
        if self._content is None and self._problem is None:
            self._make(self.tree.clone(), dataclasses.replace(self._settings, text=True))  # a hook may read it
        if self._content is None:
            raise ValueError(self._problem)
        return self._content

    def made(self) -> tuple[PageContent | None, str | None]:
        """The content with what the job writes of it, or the problem that stopped it (the page's
        ``extract_errors`` line). Made on the tree itself: call it last."""
        if self._content is None and self._problem is None:
            self._make(self.tree, self._settings)
        if self._content is None:
            return None, self._problem
        keep = self._settings
        content = self._content
        if not (keep.markdown and keep.text):
            content = dataclasses.replace(
                content, markdown=content.markdown if keep.markdown else None, text=content.text if keep.text else None
            )
        return content, None

    def _make(self, tree: LexborHTMLParser, settings: ContentSettings) -> None:
        from crawler.content.extract import content_of_markdown, extract_content  # loaded by the first page

        url = self._fetched.url
        try:
            if self._markdown is not None:
                self._content = content_of_markdown(self._markdown, tree, url, self.heading, settings)
            else:
                base = base_url(tree, URL(url, encoded=True))
                self._content = extract_content(tree, url, base, settings)
        except Exception as e:  # one page's odd HTML must not stop the others: its extract problem
            self._problem = f"content: {type(e).__name__}: {e}"


@cache
def _renderer() -> MarkdownIt:
    """CommonMark with GitHub's tables and strikethrough: what servers of Markdown write."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])
