"""Crawls follow links as a browser does: the server sees exactly the browser's URLs, and a job
saved before (URLs keyed in yarl's RFC 3986 form) resumes without fetching any URL twice."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from crawler.core.request import Request
from crawler.redis.frontier import RedisFrontier, fingerprint
from crawler.redis.store import RedisStore
from tests.helpers.cli import run_cli
from tests.helpers.output import copy_job_fixture
from tests.helpers.site import Site

# href as written in the page (on /dir/page) → what a browser requests
BROWSER = {
    "\\x": "/x",  # a backslash is a slash
    "http:\\\\links.test:{port}\\y": "/y",  # ... in the authority too
    " /stray\n/white\tspace\n ": "/stray/whitespace",  # tabs and newlines vanish, ends are trimmed
    "/foo%": "/foo%",  # a stray % is sent as written
    "/dot/%2e%2": "/dot/%2e%2",
    "/sp? d e": "/sp?%20d%20e",  # spaces in a query are %20, not +
    "/CaSe/%7e%7E": "/CaSe/%7e%7E",  # percent-encoding keeps its case in the request
    "http:rel": "/dir/rel",  # same scheme, no slashes: relative
    "http:/abs": "/abs",
    "/enc/%2e%2E/up": "/up",  # encoded dot segments are dot segments
    "/a|b^c": "/a|b%5Ec",
    "/empty?": "/empty",  # an empty query: yarl cannot send one, and it is one page with the bare path
}


def _page(links: list[str]) -> web.Response:
    body = "".join(f'<a href="{html.escape(link)}">link</a>' for link in links)
    return web.Response(text=f"<html><body>{body}</body></html>", content_type="text/html")


async def test_the_server_sees_exactly_the_browsers_urls(site: Site, tmp_path: Path):
    async def handler(request: web.Request) -> web.Response:
        if request.raw_path == "/dir/page":
            return _page([href.format(port=site.port) for href in BROWSER] + [f"http://bücher.test:{site.port}/idn"])
        return _page([])

    site.route("links.test", "*", handler)
    site.route("xn--bcher-kva.test", "*", handler)
    out = tmp_path / "out"
    code, _, err = await run_cli(
        "crawl",
        site.url("links.test", "/dir/page"),
        "--allow-domain",
        "test",
        "--resolve",
        site.pin("links.test")[0],
        "--resolve",
        site.pin("xn--bcher-kva.test")[0],
        "-o",
        str(out),
    )
    assert code == 0, err
    sent = {path for (host, path) in site.raw_hits if path != "/robots.txt"}
    assert sent == {"/dir/page", *BROWSER.values(), "/idn"}
    assert ("xn--bcher-kva.test", "/idn") in site.raw_hits
    assert all(n == 1 for n in site.raw_hits.values())


OLD_LINKS = ["/a|b", "/foo%", "/q? d ", "/x%7e", "/e?"]  # tests/fixtures/format4-job/README.md


async def test_a_job_saved_before_browser_urls_resumes_without_fetching_a_url_twice(site: Site, tmp_path: Path):
    """fixtures/format4-job was written by the previous release (state format 4): it fetched /
    and the pages of OLD_LINKS under yarl's forms (/a%7Cb, /foo%25, /q?+d, /x~, /e), and died before
    /next's record. Resumed now, /next is fetched, and its links (the same pages, read as a browser
    reads them) are known by their old keys: nothing else is fetched. A re-crawl then asks for each
    URL once."""

    async def handler(request: web.Request) -> web.Response:
        return _page(OLD_LINKS if request.path == "/next" else [])

    site.route("old.test", "*", handler)
    out = tmp_path / "job"
    db = copy_job_fixture("format4-job", out, site.port)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    db.close()

    code, _, err = await run_cli("crawl", site.url("old.test"), "--resolve", site.pin("old.test")[0], "-o", str(out))

    assert code == 0, err
    assert {path for (_, path) in site.raw_hits if path != "/robots.txt"} == {"/next"}
    urls = [line.split('"')[3] for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(urls) == len(set(urls)) == 7

    site.raw_hits.clear()  # a re-crawl asks for each saved URL once more, as the job saved it
    code, _, err = await run_cli(
        "crawl", site.url("old.test"), "--resolve", site.pin("old.test")[0], "-o", str(out), "--recrawl"
    )
    assert code == 0, err
    assert "crawl 2, 7 known URLs due again" in err
    assert {p: n for (_, p), n in site.raw_hits.items() if p != "/robots.txt"} == {
        p: 1 for p in ["/", "/a%7Cb", "/foo%25", "/q?+d", "/x~", "/e", "/next"]
    }


async def test_a_redis_seen_set_filled_the_old_way_is_read_with_old_keys(redis_url: str, tmp_path: Path):
    """A job's seen set filled by the previous release holds fingerprints of yarl's forms: its URLs,
    met again in the browser's form, are not admitted a second time; a new job is keyed anew."""
    old = RedisStore(redis_url, "old", "w1", ttl=30, wait=5)
    await old.redis.sadd(old.keys.seen, *(fingerprint(f"http://a{u}") for u in ["/a%7Cb", "/foo%25", "/q?+d", "/x~"]))
    again = [Request(f"http://a{u}", "a:80") for u in ["/a|b", "/foo%", "/q?%20d", "/x%7e", "/new"]]
    frontier = RedisFrontier(old, tmp_path / "r.jsonl")
    await frontier.open()
    assert [r.url for r in await frontier.add(again)] == ["http://a/new"]
    await frontier.close()

    fresh = RedisFrontier(RedisStore(redis_url, "fresh", "w1", ttl=30, wait=5), tmp_path / "r2.jsonl")
    await fresh.open()
    assert [r.url for r in await fresh.add([Request("http://a/foo%", "a:80"), Request("http://a/foo%25", "a:80")])] == [
        "http://a/foo%",
        "http://a/foo%25",
    ]  # two resources to a server
    await fresh.close()


async def test_redirects_and_sitemap_entries_are_followed_as_a_browser_would(site: Site, crawl):
    """A Location header and a sitemap's <loc> are read like a link: backslashes, a literal % and a
    space in the query reach the server as a browser sends them."""

    async def moved(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "\\moved%/x? a"})

    async def sitemap(_: web.Request) -> web.Response:
        loc = f"http://links.test:{site.port}\\from\\sitemap%"
        return web.Response(text=f"<urlset><url><loc>{loc}</loc></url></urlset>", content_type="application/xml")

    site.html("links.test", "/", '<a href="/go">go</a>')
    site.route("links.test", "/go", moved)
    site.route("links.test", "/sitemap.xml", sitemap)
    site.html("links.test", "*", "")
    r = await crawl(start_urls=[site.url("links.test")], resolve=site.pin("links.test"), sitemaps=True)
    sent = {path for (_, path) in site.raw_hits}
    assert {"/go", "/moved%/x?%20a", "/from/sitemap%"} <= sent
    assert r.by_url[site.url("links.test", "/go")]["final_url"] == site.url("links.test", "/moved%/x?%20a")
