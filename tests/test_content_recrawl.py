"""Content that stays current: a re-crawl keeps an unchanged page's line, replaces a changed
one's, drops a gone one's; a shared job (real Redis) marks near-duplicates across its workers and
``crawler merge`` gathers the shards' content."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crawler.commands.merge import merge
from crawler.config import Job
from crawler.engine import Crawl
from tests.test_content import article_text, news_site, read_lines, templated


class Paper:
    """A small site whose pages change between two crawls."""

    def __init__(self, site: Any) -> None:
        self.site = site
        self.generation = 1
        for path in ("/", "/stays", "/edited", "/gone", "/new"):
            site.route("paper.test", path, self.page)

    async def page(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/":
            links = ["/stays", "/edited", "/gone"] + (["/new"] if self.generation == 2 else [])
            html = "<html><body><main>" + "".join(f'<a href="{p}">{p}</a> ' for p in links) + "</main></body></html>"
        elif (path == "/gone" and self.generation == 2) or (path == "/new" and self.generation == 1):
            raise web.HTTPNotFound()
        else:
            seed = {"/stays": 1, "/edited": 2 if self.generation == 1 else 3, "/gone": 4, "/new": 5}[path]
            html = templated(path.strip("/").title(), article_text(seed))
        return web.Response(text=html, content_type="text/html")


async def test_a_recrawl_keeps_content_current(site, tmp_path):
    paper = Paper(site)
    out = tmp_path / "out"
    fields = {
        "start_urls": [site.url("paper.test", "/")],
        "resolve": site.pin("paper.test"),
        "output": out,
        "content": "markdown",
        "chunks": {"words": 120, "overlap": 0},
    }
    await Crawl(Job.model_validate(fields)).run()
    before = {line["url"]: line for line in read_lines(out / "content.jsonl")}
    paper.generation = 2
    await Crawl(Job.model_validate({**fields, "recrawl": True})).run()
    lines = read_lines(out / "content.jsonl")
    after = {line["url"]: line for line in lines}
    url = site.url
    assert len(lines) == len(after)  # one line per URL
    assert set(after) == {url("paper.test", p) for p in ("/", "/stays", "/edited", "/new")}  # /gone left
    assert after[url("paper.test", "/stays")] == before[url("paper.test", "/stays")]  # unchanged: its line kept
    assert after[url("paper.test", "/edited")]["crawl"] == 2
    assert article_text(3)[0] in after[url("paper.test", "/edited")]["markdown"]
    assert after[url("paper.test", "/new")]["crawl"] == 2
    chunks = read_lines(out / "chunks.jsonl")
    edited = [c for c in chunks if c["url"] == url("paper.test", "/edited")]
    assert edited and all(c["crawl"] == 2 for c in edited)
    assert [c["chunk"] for c in edited] == list(range(len(edited)))
    assert not [c for c in chunks if c["url"] == url("paper.test", "/gone")]
    assert {c["url"] for c in chunks} == set(after)
    firsts = {line["url"] for line in read_lines(out / "simhash.jsonl")}
    assert url("paper.test", "/gone") in {u for u, line in before.items() if line.get("simhash")}
    assert (
        url("paper.test", "/gone") not in firsts and url("paper.test", "/stays") in firsts
    )  # a gone first is forgotten


async def test_a_shared_job_marks_near_duplicates_in_redis_and_merges_its_content(site, redis_url, tmp_path):
    news_site(site)
    out = tmp_path / "out"
    job = Job.model_validate(
        {
            "start_urls": [site.url("news.test", "/")],
            "resolve": site.pin("news.test"),
            "output": out,
            "frontier": redis_url,
            "worker_id": "w1",
            "name": "news",
            "per_host": 1,
            "concurrency": 1,
            "content": "markdown",
        }
    )
    crawl = Crawl(job)
    await crawl.run()
    assert crawl.stats.near_duplicates == 3
    assert not (out / "shards" / "w1" / "simhash.jsonl").exists()  # the index is in Redis
    merge(out)
    lines = {line["url"]: line for line in read_lines(out / "content.jsonl")}
    assert lines[site.url("news.test", "/mirror/a")]["near_duplicate_of"] == site.url("news.test", "/a")
    assert lines[site.url("news.test", "/b")]["near_duplicate_of"] is None
    # another worker of the same job, later: the Redis index still knows the first
    second = Crawl(job.model_copy(update={"worker_id": "w2"}))
    first = await second.near.first(
        site.url("news.test", "/a/print?again"), int(lines[site.url("news.test", "/a")]["simhash"], 16)
    )  # type: ignore[union-attr]
    assert first == site.url("news.test", "/a")
