"""One page's content, from the tree the parser already holds: metadata from ``<head>``, then the
main region (boilerplate removed) as Markdown, its text, SimHash and chunks.

A server that answered in Markdown (``prefer_markdown``) is taken as is: its Markdown is the
content, and the HTML it renders to only gives the links and the title.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from crawler.content.chunks import chunk
from crawler.content.markdown import to_markdown, to_text
from crawler.content.metadata import read_metadata
from crawler.content.region import main_region
from crawler.content.settings import ContentSettings
from crawler.content.simhash import simhash
from crawler.core.content import METADATA, PageContent

MIN_WORDS = 20  # shorter texts are not compared for near-duplicates: a few words say too little


def extract_content(tree: LexborHTMLParser, url: str, base: str, settings: ContentSettings) -> PageContent:
    """The content of the page fetched from ``url`` whose links resolve against ``base``.
    Changes ``tree`` (boilerplate is cut out of it): pass a tree nothing reads afterwards."""
    metadata = _metadata(tree, url)  # first: the region's cleaning drops <script> JSON-LD
    node = main_region(tree) if settings.main_content else (tree.body or tree.root)
    if node is None:
        return _finish("", metadata, settings)
    markdown = to_markdown(node, base)
    if settings.text:
        return _finish(markdown, metadata, settings)
    return _finish(markdown, metadata, settings, words=node.text(deep=True, separator=" "))


def content_of_markdown(
    markdown: str, tree: LexborHTMLParser, url: str, heading: str | None, settings: ContentSettings
) -> PageContent:
    """The content of a page served as Markdown; ``tree`` is the HTML it renders to, ``heading``
    its first h1 (its title, as Markdown has no ``<title>``)."""
    metadata = _metadata(tree, url)
    metadata["title"] = metadata.get("title") or heading
    return _finish(markdown, metadata, settings)


def _metadata(tree: LexborHTMLParser, url: str) -> dict[str, str | None]:
    found = read_metadata(tree, url)
    return {key: getattr(found, key) for key in METADATA}


def _finish(
    markdown: str, metadata: dict[str, str | None], settings: ContentSettings, words: str | None = None
) -> PageContent:
    """The content made of ``markdown``. Its words (counted, and SimHashed) are those of its text,
    or, when the job does not write the text, the region's own text (``words``: the same words,
    read by lexbor in a tenth of the time)."""
    text = to_text(markdown).strip() if words is None else None
    source = text if text is not None else words or ""
    count = len(source.split())
    return PageContent(
        markdown=markdown,
        text=text,
        metadata=metadata,
        words=count,
        simhash=simhash(source) if settings.simhash and count >= MIN_WORDS else None,
        chunks=chunk(markdown, settings.chunk_words, settings.chunk_overlap) if settings.chunk_words else [],
    )
