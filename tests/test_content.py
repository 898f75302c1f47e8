"""``content:``: each HTML page's main content as Markdown and text in ``OUT/content.jsonl``, its
near-duplicates marked (or skipped), its chunks in ``OUT/chunks.jsonl``; crawled from real local
sites, as a user crawls a docs site or a news site for a retrieval index."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.config import Job
from crawler.engine import Crawl
from tests.helpers.site import Site

WORDS = [
    "river",
    "valley",
    "harbour",
    "engine",
    "signal",
    "market",
    "winter",
    "garden",
    "station",
    "council",
    "bridge",
    "library",
    "festival",
    "museum",
    "orchard",
    "weather",
    "village",
    "mountain",
    "rail",
    "ferry",
    "tower",
    "school",
    "summer",
    "archive",
    "bakery",
    "canal",
    "forest",
    "island",
    "lantern",
    "meadow",
    "north",
    "south",
    "painter",
    "pottery",
    "quarry",
    "violin",
]


def article_text(seed: int, paragraphs: int = 16) -> list[str]:
    """Paragraphs of made-up prose: one seed, one article (same vocabulary, different text)."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(5):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 14))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return out


def templated(title: str, paragraphs: list[str], date_line: str = "") -> str:
    """A news site's page: menu, the article, a related-links list and a footer around it."""
    menu = "".join(f'<li><a href="/section/{w}">{w.title()}</a></li>' for w in WORDS[:10])
    related = "".join(f'<li><a href="/related/{w}">More about the {w}</a></li>' for w in WORDS[10:18])
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title} - Valley News</title>"
        f'<meta name="description" content="About {title.lower()}"></head><body>'
        f'<header><a href="/">Valley News</a><nav><ul>{menu}</ul></nav></header>'
        f"<main><article><h1>{title}</h1>"
        + (f'<p class="dateline">{date_line}</p>' if date_line else "")
        + f'{body}<p>Read the <a href="/guide/start">guide</a>.</p></article></main>'
        f'<aside class="related"><h2>Related</h2><ul>{related}</ul></aside>'
        f'<footer><p>© 2026 Valley News</p><a href="/about">About</a> <a href="/contact">Contact</a></footer>'
        "</body></html>"
    )


def serve(site: Site, host: str, pages: dict[str, str]) -> None:
    for path, html in pages.items():

        async def handler(_: web.Request, html: str = html) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        site.route(host, path, handler)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def news_site(site: Site) -> dict[str, str]:
    """A home page linking an article, its print view, a mirror that differs by a date line, a
    session-id URL of it, and two articles that really differ (one shares half its text)."""
    a, b = article_text(1), article_text(2)
    half = a[:8] + article_text(3)[:8]
    pages = {
        "/a": templated("Harbour festival", a, "Updated 1 December 2026"),
        "/a/print": "<html><head><title>Harbour festival</title></head><body><h1>Harbour festival</h1>"
        + "".join(f"<p>{p}</p>" for p in a)
        + "</body></html>",
        "/mirror/a": templated("Harbour festival", a, "Updated 5 December 2026"),
        "/a?sessionid=8f14e45f": templated("Harbour festival", a, "Updated 1 December 2026"),
        "/b": templated("Orchard council", b),
        "/half": templated("Harbour festival, part two", half),
    }
    links = "".join(f'<a href="{p}">{p}</a> ' for p in pages)
    pages["/"] = f"<html><head><title>Home</title></head><body><main><p>Index</p>{links}</main></body></html>"
    serve(site, "news.test", pages)
    return pages


async def crawl_news(site: Site, out: Path, **fields: Any) -> Crawl:
    job = Job.model_validate(
        {
            "start_urls": [site.url("news.test", "/")],
            "resolve": site.pin("news.test"),
            "output": out,
            "per_host": 1,
            "concurrency": 1,  # pages in link order: the first of a kind is the one linked first
            **fields,
        }
    )
    crawl = Crawl(job)
    await crawl.run()
    return crawl


async def test_markdown_of_the_main_content_with_metadata(site, tmp_path):
    news_site(site)
    await crawl_news(site, tmp_path / "out", content=["markdown", "text"])
    lines = {line["url"]: line for line in read_lines(tmp_path / "out" / "content.jsonl")}
    page = lines[site.url("news.test", "/b")]
    assert page["title"] == "Orchard council - Valley News"
    assert page["description"] == "About orchard council"
    assert page["markdown"].startswith("# Orchard council")
    assert article_text(2)[0] in page["text"]
    for boilerplate in ("Valley News", "More about the", "Contact"):
        assert boilerplate not in page["markdown"]
    assert f"[guide]({site.url('news.test', '/guide/start')})" in page["markdown"]  # absolute
    assert page["words"] == len(page["text"].split())
    records = {r["url"]: r for r in map(json.loads, (tmp_path / "out" / "records.jsonl").read_text().splitlines())}
    assert set(lines) == {url for url, r in records.items() if r["status"] == 200}  # one line per page


async def test_near_duplicates_are_marked_and_different_pages_are_not(site, tmp_path):
    news_site(site)
    crawl = await crawl_news(site, tmp_path / "out", content="markdown")
    lines = {line["url"]: line for line in read_lines(tmp_path / "out" / "content.jsonl")}
    first = site.url("news.test", "/a")
    for copy in ("/a/print", "/mirror/a", "/a?sessionid=8f14e45f"):
        assert lines[site.url("news.test", copy)]["near_duplicate_of"] == first, copy
    for different in ("/a", "/b", "/half"):
        assert lines[site.url("news.test", different)]["near_duplicate_of"] is None, different
    index = lines[site.url("news.test", "/")]  # a few words of links: too short to compare
    assert index["words"] < 20 and "simhash" not in index and "near_duplicate_of" not in index
    records = {r["url"]: r for r in map(json.loads, (tmp_path / "out" / "records.jsonl").read_text().splitlines())}
    assert records[site.url("news.test", "/mirror/a")]["near_duplicate_of"] == first
    assert "near_duplicate_of" not in records[site.url("news.test", "/b")]
    assert crawl.stats.near_duplicates == 3


async def test_skip_leaves_near_duplicates_out_of_the_corpus(site, tmp_path):
    news_site(site)
    await crawl_news(site, tmp_path / "out", content="text", near_duplicates="skip")
    urls = [line["url"] for line in read_lines(tmp_path / "out" / "content.jsonl")]
    assert sorted(urls) == sorted(site.url("news.test", p) for p in ("/", "/a", "/b", "/half"))
    assert all("markdown" not in line for line in read_lines(tmp_path / "out" / "content.jsonl"))
    pages = {r["url"]: r for r in read_lines(tmp_path / "out" / "records.jsonl") if r["status"] == 200}
    assert len(pages) == 7  # every page still has its record, near-duplicates marked
    assert pages[site.url("news.test", "/a/print")]["near_duplicate_of"] == site.url("news.test", "/a")


async def test_near_duplicates_off_writes_no_simhash(site, tmp_path):
    news_site(site)
    await crawl_news(site, tmp_path / "out", content="markdown", near_duplicates="off")
    lines = read_lines(tmp_path / "out" / "content.jsonl")
    assert len(lines) == 7 and all("near_duplicate_of" not in line and "simhash" not in line for line in lines)
    assert not (tmp_path / "out" / "simhash.jsonl").exists()


async def test_the_index_survives_a_resume(site, tmp_path):
    """Stopped after the first article, resumed: its mirror is still known as a near-duplicate."""
    news_site(site)
    out = tmp_path / "out"
    job = Job.model_validate(
        {
            "start_urls": [site.url("news.test", "/")],
            "resolve": site.pin("news.test"),
            "output": out,
            "per_host": 1,
            "concurrency": 1,
            "content": "markdown",
        }
    )
    first = site.url("news.test", "/a")
    crawl = Crawl(job)

    def stop_after_the_article(record: Any) -> None:
        if record.url == first:
            crawl.stop()

    crawl.parts.hooks = type(crawl.parts.hooks)(on_record=stop_after_the_article)
    await crawl.run()
    done = {line["url"] for line in read_lines(out / "content.jsonl")}
    assert first in done and site.url("news.test", "/mirror/a") not in done
    await Crawl(job).run()
    written = read_lines(out / "content.jsonl")
    lines = {line["url"]: line for line in written}
    assert lines[site.url("news.test", "/mirror/a")]["near_duplicate_of"] == first
    assert len(written) == len(lines)  # one line per page, also for a page the stop left half done


async def test_chunks_follow_the_headings(site, tmp_path):
    sections = "".join(
        f"<h2>Part {n}</h2>" + "".join(f"<p>{p}</p>" for p in article_text(10 + n, 3)) for n in range(1, 4)
    )
    html = f"<html><head><title>Guide</title></head><body><main><h1>Guide</h1>{sections}</main></body></html>"
    serve(site, "docs.test", {"/": html})
    out = tmp_path / "out"
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("docs.test", "/")],
                "resolve": site.pin("docs.test"),
                "output": out,
                "content": "markdown",
                "chunks": {"words": 150, "overlap": 20},
            }
        )
    ).run()
    chunks = read_lines(out / "chunks.jsonl")
    assert [c["chunk"] for c in chunks] == list(range(len(chunks))) and len(chunks) >= 3
    assert {tuple(c["headings"]) for c in chunks} >= {("Guide", f"Part {n}") for n in range(1, 4)}
    assert all(c["url"] == site.url("docs.test", "/") and c["words"] == len(c["text"].split()) for c in chunks)
    text = (out / "content.jsonl").read_text()
    assert all(c["text"].split()[-1].strip("*_") in text for c in chunks)


@pytest.mark.parametrize("parser", ["process", "inline"])
async def test_a_page_whose_content_fails_is_its_extract_problem(site, tmp_path, monkeypatch, parser):
    """Extraction raising on one page: that page's record says so, the others have content."""
    import crawler.content.extract as extract

    real = extract.main_region

    def fragile(tree: Any) -> Any:
        if tree.css_first("#breaks-the-extractor") is not None:
            raise RecursionError("maximum recursion depth exceeded")
        return real(tree)

    monkeypatch.setattr(extract, "main_region", fragile)  # before the parser process is forked
    serve(
        site,
        "odd.test",
        {
            "/": '<html><body><main><p>Fine page</p><a href="/odd">odd</a></main></body></html>',
            "/odd": '<html><body><main id="breaks-the-extractor"><p>Odd page</p></main></body></html>',
        },
    )
    out = tmp_path / "out"
    await Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("odd.test", "/")],
                "resolve": site.pin("odd.test"),
                "output": out,
                "content": "markdown",
                "parser": parser,
            }
        )
    ).run()
    records = {r["url"]: r for r in read_lines(out / "records.jsonl")}
    odd = records[site.url("odd.test", "/odd")]
    assert odd["status"] == 200 and odd["error"] is None
    assert odd["extract_errors"] == ["content: RecursionError: maximum recursion depth exceeded"]
    assert [line["url"] for line in read_lines(out / "content.jsonl")] == [site.url("odd.test", "/")]
