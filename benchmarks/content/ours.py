"""The crawler's own pipeline (crawler.content): main_region on the selectolax tree, then
to_markdown / to_text. Each call parses the HTML string, as the other candidates do."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from benchmarks.content.datasets import Page
from crawler.content.markdown import to_markdown, to_text
from crawler.content.region import main_region


def crawler_region(p: Page) -> str:
    """Region choice only (its text, so that quality can be read too): the cost of main_region."""
    return main_region(LexborHTMLParser(p.html)).text()


def crawler_md(p: Page) -> str:
    return to_markdown(main_region(LexborHTMLParser(p.html)), p.url)


def crawler_text(p: Page) -> str:
    return to_text(crawler_md(p))


def crawler_body_md(p: Page) -> str:
    """main_content: false: the whole body through the same converter."""
    tree = LexborHTMLParser(p.html)
    return to_markdown(tree.body or tree.root, p.url) if (tree.body or tree.root) is not None else ""
