"""The page a ``parse`` hook reads, and the follow-request it yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from multidict import CIMultiDict
from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.core.request import PRIORITY_RANGE

if TYPE_CHECKING:
    from crawler.core.content import PageContent
    from crawler.parsing.content import ContentMaker


class Fetched(NamedTuple):
    """An HTML page on its way to the parser (a tuple: it is pickled to the parser process)."""

    url: str
    body: bytes
    content_type: str | None
    depth: int = 0
    meta: dict[str, Any] | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()  # the response's; sent only when a parse hook can read them
    redirected_from: str | None = None  # the URL whose redirect led here


@dataclass(frozen=True, slots=True)
class Follow:
    """A URL a hook asks the crawl to follow, relative to the page or absolute. Scope, depth,
    robots.txt, dedup and the caps apply as to any link."""

    url: str
    meta: dict[str, Any] = field(default_factory=dict)  # JSON data the followed page's hook reads
    priority: int = 0  # higher is fetched sooner among its host's queued URLs


class Page:
    """One fetched HTML page, parsed once: the hook shares the tree the crawl's rules use."""

    def __init__(
        self, fetched: Fetched, tree: LexborHTMLParser, links: list[str], maker: ContentMaker | None = None
    ) -> None:
        self.url = fetched.url  # the URL fetched (a redirect is a request of its own: its target's page)
        self.meta = fetched.meta or {}  # what the follow-request that led here carried (stored with the URL)
        self.body = fetched.body  # bytes, as received (decoded)
        self.content_type = fetched.content_type  # the response's Content-Type
        self.status = fetched.status  # the response's status
        self.headers = CIMultiDict(fetched.headers)  # case-insensitive; repeated names kept
        self.depth = fetched.depth  # link hops from a seed
        self.redirected_from = fetched.redirected_from  # the URL whose redirect led here, if one did
        self.tree = tree  # the selectolax (lexbor) tree the extraction rules use
        self._links = links
        self._maker = maker

    @classmethod
    def from_html(
        cls,
        url: str,
        html: str | bytes,
        *,
        status: int = 200,
        meta: dict[str, Any] | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        depth: int = 0,
    ) -> Page:
        """The page a ``parse`` hook would get for ``html`` fetched from ``url``, without a crawl:
        for unit-testing a hook. Links are read as the crawl reads them with no follow rules."""
        from yarl import URL

        from crawler.parsing.content import ContentMaker
        from crawler.parsing.parse import read_page

        body = html.encode() if isinstance(html, str) else html
        content_type = "text/html; charset=utf-8" if isinstance(html, str) else "text/html"
        fetched = Fetched(url, body, content_type, depth, meta, status, headers)
        maker = ContentMaker(fetched, None)
        links = [link.text for link in read_page(maker.tree, URL(url, encoded=True)).links]
        return cls(fetched, maker.tree, links, maker)

    @property
    def final_url(self) -> str:
        """The URL the body came from. A redirect is followed as a request of its own, so this is
        ``url``; ``redirected_from`` names the URL that redirected here, if one did (for a
        rendered page, the URL the browser was sent to before its own redirects)."""
        return self.url

    @property
    def text(self) -> str:
        """The document as text (the parser's decoding: header, BOM or ``<meta charset>``)."""
        return self.tree.html or ""

    @property
    def markdown(self) -> str:
        """The page's main content (boilerplate removed) as GitHub-flavoured Markdown, links and
        images absolute; made once, on first use (a page served as Markdown: that Markdown)."""
        return self._content().markdown or ""

    @property
    def main_text(self) -> str:
        """The plain text of :attr:`markdown`."""
        return self._content().text or ""

    @property
    def metadata(self) -> dict[str, str | None]:
        """What the page says about itself: title, description, author, published (ISO 8601 when
        it can be read so), language and canonical URL; None where it says nothing."""
        return dict(self._content().metadata)

    def _content(self) -> PageContent:
        if self._maker is None:  # a Page built by hand from a tree: make its own
            from crawler.parsing.content import ContentMaker

            self._maker = ContentMaker(self._fetched_again(), None)
        return self._maker.content()

    def _fetched_again(self) -> Fetched:
        return Fetched(self.url, self.body, self.content_type, self.depth, self.meta, self.status)

    def css(self, selector: str) -> list[LexborNode]:
        return self.tree.css(selector)

    def css_first(self, selector: str) -> LexborNode | None:
        return self.tree.css_first(selector)

    def links(self) -> list[str]:
        """The links the crawl found on the page (absolute, ``<base>`` honoured, after the job's
        follow rules and nofollow), before scope and depth are checked."""
        return list(self._links)

    def follow(self, url: str, meta: dict[str, Any] | None = None, priority: int = 0) -> Follow:
        """A request for ``url`` (relative to this page or absolute), to yield from the hook;
        ``meta`` (JSON data) is stored with the URL, survives resume, and is this page's
        ``page.meta`` when it is parsed. ``priority`` (an int within ±1,000,000): its host's
        queued URLs are fetched highest first. A URL already admitted keeps what it came with."""
        if not isinstance(priority, int) or priority not in PRIORITY_RANGE:
            raise ValueError(
                f"priority must be an int from {PRIORITY_RANGE.start} to {PRIORITY_RANGE.stop - 1}, not {priority!r}"
            )
        return Follow(url, dict(meta or {}), priority)
