"""A page's metadata (issue 27): the five fixture pages, each source's fallbacks, and junk that must not raise."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from crawler.content.metadata import Metadata, read_metadata

FIXTURES = Path(__file__).parent / "fixtures" / "content"


def meta(html: str, url: str = "https://site.example/a/page.html") -> Metadata:
    return read_metadata(LexborHTMLParser(html), url)


def fixture(name: str, url: str) -> Metadata:
    return read_metadata(LexborHTMLParser((FIXTURES / name).read_bytes()), url)


def jsonld(*blocks: str) -> str:
    return "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)


def test_news_article() -> None:
    url = "https://www.harbourgazette.example/news/2025/03/millbrook-cycle-bridge-approved?utm_source=rss"
    assert fixture("article.html", url) == Metadata(
        title="Council approves Millbrook cycle bridge after ten years of debate",  # JSON-LD headline over og:title
        description="After ten years of consultations, Millbrook's council has voted 31 to 9 to build a cycle and "
        "foot bridge over the River Wend, with work due to start next spring.",
        author="Priya Natarajan, Tom Ellery",  # article:author is a URL: JSON-LD's two Persons
        published="2025-03-14T07:30:00+00:00",
        language="en-GB",
        canonical="https://www.harbourgazette.example/news/2025/03/millbrook-cycle-bridge-approved",
    )


def test_docs_page() -> None:
    assert fixture("docs.html", "https://www.terndb.example/docs/18/indexes-partial.html") == Metadata(
        title="TernDB: Documentation: 18: 11.8. Partial Indexes",  # <title> over two lines
        language="en",  # http-equiv=Content-Language
        canonical="https://www.terndb.example/docs/current/indexes-partial.html",
    )


def test_shop_listing() -> None:
    assert fixture("shop.html", "https://www.northfell.example/c/running/trail-shoes?sort=popular") == Metadata(
        title="Trail Running Shoes | Northfell Outdoor",  # a CollectionPage's name is no article headline
        description="Grippy, light and waterproof trail shoes for fell, moor and mountain, with free returns within 60 days.",
        language="en-GB",  # og:locale en_GB
        canonical="https://www.northfell.example/c/running/trail-shoes",
    )


def test_forum_thread() -> None:
    url = "https://forum.crumbandcrust.example/t/sourdough-starter-smells-like-nail-polish-remover/4821?page=1"
    assert fixture("forum.html", url) == Metadata(
        title="Sourdough starter smells like nail polish remover — what am I doing wrong?",
        description="My rye starter is two weeks old and smells strongly of acetone every morning. It doubles, but "
        "the bread is dense. Feeding schedule and flour details inside.",
        author="mkovacs",
        published="2025-01-09T17:22:41+00:00",  # itemprop=datePublished comes before JSON-LD's +01:00 form
        language="en",
        canonical="https://forum.crumbandcrust.example/t/sourdough-starter-smells-like-nail-polish-remover/4821",
    )


def test_article_behind_a_cookie_banner() -> None:
    assert fixture("cookie.html", "https://www.greenleafjournal.example/gardening/overwintering-dahlias") == Metadata(
        title="How to overwinter dahlia tubers",  # og:title: a WebPage's name is the site's
        description="Lift, dry, store and check: a step-by-step guide to keeping dahlia tubers healthy through the "
        "winter, and what to do when they rot or shrivel.",
        author="Dr. Helen Okafor",  # meta author over the rel=author link
        published="2024-11-02",
        language="en-US",
        canonical="https://www.greenleafjournal.example/gardening/overwintering-dahlias",
    )


def test_nothing_at_all() -> None:
    assert meta("") == Metadata()
    assert meta("<p>Just text, <time datetime=2024-01-01>no article</time>.</p>") == Metadata()


def test_jsonld_graph() -> None:
    m = meta(
        jsonld(
            '{"@context": "https://schema.org", "@graph": ['
            '{"@type": "WebSite", "name": "Site name"},'
            '{"@type": "WebPage", "description": "The page."},'
            '{"@type": ["Article", "TechArticle"], "headline": "In a graph", "datePublished": "2024-05-06T07:08:09Z",'
            ' "author": {"@type": "Person", "name": "Ada"}}]}'
        )
    )
    assert m == Metadata(
        title="In a graph", description="The page.", author="Ada", published="2024-05-06T07:08:09+00:00"
    )


def test_jsonld_nested_and_prefixed_types() -> None:
    page = (
        '{"@type": "WebPage", "mainEntity": {"@type": "https://schema.org/BlogPosting", "name": "  Nested\\n post "}}'
    )
    assert meta(jsonld(page)).title == "Nested post"


def test_authors_as_a_list_of_objects() -> None:
    authors = (
        '[{"@type": "Person", "name": "Ana Ruiz"}, {"name": "Bo Li"}, "Cy Ode", {"name": "Ana Ruiz"}, {"url": "x"}]'
    )
    assert meta(jsonld(f'{{"@type": "NewsArticle", "author": {authors}}}')).author == "Ana Ruiz, Bo Li, Cy Ode"


def test_broken_jsonld_next_to_a_good_one() -> None:
    m = meta(jsonld('{"@type": "Article", "headline": "broken",', '{"@type": "Article", "headline": "Good"}'))
    assert m.title == "Good"


@pytest.mark.parametrize(
    "block",
    [
        "",
        "null",
        "42",
        '"text"',
        "[1, [2, [3]], null]",
        '{"@type": 7, "headline": "no type"}',
        '{"@type": "Article", "headline": ["a"], "name": {"x": 1}, "author": 5, "datePublished": 20240101}',
        '{"@type": "Article", "author": {"name": ["Ann"]}, "description": null}',
        '{"@graph": "nope"}',
        "<!-- {} -->",
    ],
)
def test_odd_jsonld_is_skipped(block: str) -> None:
    assert meta(jsonld(block) + "<title>Fallback</title>") == Metadata(title="Fallback")


def test_title_falls_back_to_og_then_title_tag() -> None:
    og = '<meta property="og:title" content="From OG">'
    assert meta(og + "<title>From tag</title>").title == "From OG"
    assert meta("<title>\n  From\t tag \n</title>").title == "From tag"
    assert meta('<title>   </title><meta property="og:title" content="">').title is None


def test_description_order() -> None:
    og = '<meta property="og:description" content="OG">'
    ld = jsonld('{"@type": "Article", "description": "LD"}')
    assert meta('<meta name="Description" content="Meta">' + og + ld).description == "Meta"
    assert meta(og + ld).description == "OG"
    assert meta(ld).description == "LD"


def test_author_order() -> None:
    byline = '<body><p>By <a rel="author" href="/u/z">Zoe Byline</a></p>'
    ld = jsonld('{"@type": "BlogPosting", "author": "LD Author"}')
    assert meta('<meta name="author" content="Meta Author">' + ld + byline).author == "Meta Author"
    assert meta('<meta property="article:author" content="Og Author">' + ld).author == "Og Author"
    assert meta('<meta property="article:author" content="https://social.example/og">' + ld).author == "LD Author"
    assert meta(byline).author == "Zoe Byline"


def test_published_order() -> None:
    time_tag = '<article><p>Posted <time datetime="2021-01-01">then</time></p></article>'
    ld = jsonld('{"@type": "Article", "datePublished": "2022-02-02"}')
    itemprop = '<span itemprop="datePublished" content="2023-03-03">March</span>'
    assert meta('<meta property="article:published_time" content="2025-05-05">' + ld).published == "2025-05-05"
    assert meta('<meta name="DC.date" content="2024-04-04">' + ld).published == "2024-04-04"
    assert meta(ld + itemprop + time_tag).published == "2023-03-03"
    assert meta(ld + time_tag).published == "2022-02-02"
    assert meta(time_tag).published == "2021-01-01"


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Tue, 05 Mar 2024 10:00:00 +0100", "2024-03-05T10:00:00+01:00"),  # RFC 2822
        ("Tue, 05 Mar 2024 10:00:00 GMT", "2024-03-05T10:00:00+00:00"),
        ("2024-03-05T10:00:00Z", "2024-03-05T10:00:00+00:00"),
        ("2024-03-05T10:00:00.250Z", "2024-03-05T10:00:00.250000+00:00"),
        ("2024-03-05 10:00:00", "2024-03-05T10:00:00"),
        ("2024-03-05", "2024-03-05"),  # a date stays a date
        ("2024-03-05Z", "2024-03-05"),
        ("  March 5, 2024 ", "March 5, 2024"),  # no date we can read: the page's text
        ("2024-13-45", "2024-13-45"),
    ],
)
def test_dates(raw: str, iso: str) -> None:
    assert meta(f'<meta name="pubdate" content="{raw}">').published == iso


def test_language_order() -> None:
    equiv = '<meta http-equiv="content-language" content="fr-CA, en">'
    locale = '<meta property="og:locale" content="pt_BR">'
    assert meta(f'<html lang="de-AT"><head>{equiv}{locale}</head></html>').language == "de-AT"
    assert meta(f"<html><head>{equiv}{locale}</head></html>").language == "fr-CA"
    assert meta(f'<html lang=""><head>{locale}</head></html>').language == "pt-BR"


@pytest.mark.parametrize(
    ("head", "canonical"),
    [
        ('<link rel="canonical" href="/b/other.html?x=1#part">', "https://site.example/b/other.html?x=1"),
        ('<link rel="canonical" href="other.html">', "https://site.example/a/other.html"),
        ('<base href="/docs/v2/"><link rel="canonical" href="guide.html">', "https://site.example/docs/v2/guide.html"),
        ('<base href="https://cdn.example/x/"><link rel="Canonical" href="y">', "https://cdn.example/x/y"),
        ('<link rel="alternate canonical" href="HTTPS://Site.Example/c">', "https://site.example/c"),
        ('<link rel="canonical" href="ftp://site.example/file">', None),
        ('<link rel="canonical" href="javascript:void(0)">', None),
        ('<link rel="canonical" href="  ">', None),
        ('<link rel="canonical" href="http://[bad">', None),
        ('<link rel="stylesheet" href="/s.css">', None),
    ],
)
def test_canonical(head: str, canonical: str | None) -> None:
    assert meta(f"<head>{head}</head>").canonical == canonical


def test_metadata_pickles() -> None:
    m = Metadata(title="T", author="A", published="2024-01-01", canonical="https://x.example/")
    assert pickle.loads(pickle.dumps(m)) == m
