"""Everything a crawl takes from one HTML page: its title, the links to admit and the items.

One pure function of (page, the job's rules), with a picklable result, so the same code runs inline (``crawler
check``) and in the parser process (``crawler.parsing.process``) that keeps it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from crawler.admission import LinkRules
from crawler.content.settings import ContentSettings
from crawler.core.blocked import BlockRules
from crawler.core.content import PageContent
from crawler.core.errors import InvalidURL
from crawler.core.urls import split
from crawler.hooks import ParseHook, as_item, failure
from crawler.parsing.content import ContentMaker
from crawler.parsing.extract import DROPPED, Extractor
from crawler.parsing.page import Fetched, Follow, Page
from crawler.parsing.parse import read_page
from crawler.parsing.rules import ExtractRule, FollowRule


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """The rules a page is read with: which links are followed, what is extracted."""

    rules: LinkRules  # scope, depth and URL length: admission's own
    extract: tuple[ExtractRule, ...]
    follow: tuple[FollowRule, ...]
    follow_nofollow: bool
    detect_shells: bool  # render: auto: tell pages that scripts build
    content: ContentSettings | None = None  # content: the page's main content, Markdown and text
    blocked: BlockRules = field(default_factory=BlockRules)  # blocked_when: a challenge page is no page


@dataclass(slots=True)
class PageResult:
    """What one page gives the crawl. ``links`` are (URL, host key) pairs already in scope,
    deduplicated per page, for depth + 1; ``found`` counts the links before scope and depth."""

    title: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    found: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    extract_errors: list[str] = field(default_factory=list)
    hook_error: str | None = None  # the parse hook raised: "module:function: Error: message"
    hooked: dict[str, Follow] = field(default_factory=dict)  # link → the hook's Follow (meta, priority)
    shell: bool = False  # scripts build this page: a required field is missing, or it is nearly empty
    content: PageContent | None = None  # content: (None when it failed: see extract_errors)
    blocked: str | None = None  # why blocked_when says the page is a challenge, not a page: nothing else is read


class PageReader:
    """Parses a page and applies the job's follow, scope and extraction rules to it."""

    def __init__(self, settings: ReaderSettings, parse_hook: ParseHook | None = None) -> None:
        self._hook = parse_hook
        self._detect_shells = settings.detect_shells
        self._rules = settings.rules
        self._extractor = Extractor(list(settings.extract))
        self._follow = settings.follow
        self._follow_nofollow = settings.follow_nofollow
        self._content = settings.content
        self._blocked = settings.blocked
        if self._content is not None:  # loaded now, before the parser processes fork, not by each
            import crawler.content.extract  # noqa: F401

    @property
    def reads_headers(self) -> bool:
        """Whether pages should come with their response headers (a parse hook or a
        ``blocked_when`` rule may read them)."""
        return self._hook is not None or self._blocked.page_reads_headers

    def read(self, fetched: Fetched, trace: list[str] | None = None) -> PageResult:
        """The result for a fetched page; its links get ``depth + 1``. ``trace`` collects each
        extracted field's raw match and value (``crawler check``)."""
        page_url = URL(fetched.url, encoded=True)
        depth = fetched.depth
        maker = ContentMaker(fetched, self._content)
        tree = maker.tree
        page = read_page(tree, page_url, follow_nofollow=self._follow_nofollow, follow=self._follow)
        blocked = self._blocked.page(
            fetched.status,
            CIMultiDict(fetched.headers),
            fetched.body,
            page.title,
            lambda s: tree.css_first(s) is not None,
        )
        if blocked is not None:  # no item, link or content comes from a challenge page
            return PageResult(title=page.title, blocked=blocked)
        result = PageResult(title=page.title or maker.heading, found=len(page.links))
        if self._extractor:
            result.items, result.extract_errors = self._extractor.extract(tree, page_url, trace)
        if self._detect_shells:
            result.shell = _looks_like_shell(tree, result.extract_errors, bool(page.links))
        allows = self._rules.allows_parts  # admission's own rules, applied before the pipe
        result.links = [
            (link.text, link.key) for link in page.links if allows(link.scheme, link.host, link.text, depth + 1)
        ]
        if self._hook is not None:
            links = [link.text for link in page.links]
            self._run_hook(Page(fetched, tree, links, maker), result)
        if self._content is not None:  # last: it cuts the boilerplate out of the tree
            result.content, problem = maker.made()
            if problem is not None:
                result.extract_errors.append(problem)
        return result

    def _run_hook(self, page: Page, result: PageResult) -> None:
        """The user's ``parse``: its items join the rules' items, its follow-requests pass the
        same rules as the page's links. If it raises, nothing it yielded is kept."""
        assert self._hook is not None
        items: list[dict[str, Any]] = []
        links: list[tuple[str, str]] = []
        hooked: dict[str, Follow] = {}
        try:
            for value in self._hook(page) or ():
                if isinstance(value, Follow):
                    try:
                        target = split(value.url, page.url)
                    except InvalidURL:
                        continue
                    if self._rules.allows_parts(target.scheme, target.host, target.text, page.depth + 1):
                        links.append((target.text, target.key))
                        if value.meta or value.priority:
                            hooked[target.text] = value
                else:
                    item = as_item(value)
                    item.setdefault("url", page.url)
                    items.append(item)
        except Exception as e:  # user code: its failure is this page's error, the crawl goes on
            result.hook_error = failure(self._hook, e)
            return
        result.items += items
        result.links += links
        result.hooked = hooked


SHELL_TEXT = 200  # characters of text below which a page with scripts and no links is a shell
NOT_TEXT = frozenset({"script", "style", "template", "noscript"})  # source or fallbacks, not what a reader sees


def _looks_like_shell(tree: LexborHTMLParser, problems: list[str], has_links: bool) -> bool:
    """``render: auto``: a page with scripts whose required fields are missing, or that has next
    to no text and no links without them, is rendered in the browser."""
    if tree.css_first("script") is None:
        return False
    if any(p.endswith(DROPPED) for p in problems):
        return True
    return not has_links and _text_length(tree.body) < SHELL_TEXT


def _text_length(body: LexborNode | None) -> int:
    """The page's readable text, up to SHELL_TEXT characters: a shell's inline state (a
    ``__NEXT_DATA__`` script of kilobytes) or styles are not text a reader sees."""
    length = 0
    for node in body.traverse(include_text=True) if body is not None else ():
        if node.tag == "-text" and (node.parent is None or node.parent.tag not in NOT_TEXT):
            length += len((node.text_content or "").strip())
            if length >= SHELL_TEXT:
                break
    return length
