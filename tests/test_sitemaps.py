"""Seeding from sitemaps: robots.txt Sitemap: lines, /sitemap.xml, indexes, gzip; scope applies."""

from __future__ import annotations

import gzip

from aiohttp import web


def urlset(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{u}</loc><lastmod>2026-01-01</lastmod></url>" for u in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()


async def test_sitemap_index_and_gzipped_child_seed_the_frontier(site, crawl):
    host = "s.test"
    base = site.url(host).rstrip("/")
    index = (
        f'<?xml version="1.0"?><sitemapindex><sitemap><loc>{base}/sitemaps/products.xml.gz</loc></sitemap>'
        f"<sitemap><loc>{base}/sitemaps/blog.xml</loc></sitemap></sitemapindex>"
    ).encode()
    listed = [f"{base}/product/{i}" for i in range(5)] + ["http://elsewhere.test/x", f"{base}/a?x=1&amp;y=2"]
    routes = {
        "/robots.txt": (b"User-agent: *\nAllow: /\nSitemap: " + f"{base}/sitemap_index.xml".encode(), "text/plain"),
        "/sitemap_index.xml": (index, "application/xml"),
        "/sitemaps/products.xml.gz": (gzip.compress(urlset(listed)), "application/gzip"),
        "/sitemaps/blog.xml": (urlset([f"{base}/blog/1"]), "application/xml"),
        "/sitemap.xml": (urlset([f"{base}/about"]), "application/xml"),
    }
    for path, (body, ctype) in routes.items():

        async def handler(_: web.Request, body=body, ctype=ctype) -> web.Response:
            return web.Response(body=body, content_type=ctype)

        site.route(host, path, handler)
    site.html(host, "/", "home, linking nowhere")
    for path in ["/about", "/blog/1", "/a"] + [f"/product/{i}" for i in range(5)]:
        site.html(host, path, path)
    r = await crawl(start_urls=[site.url(host)], resolve=site.pin(host), sitemaps=True)
    pages = {rec["url"] for rec in r.records if rec["status"] == 200}
    expected = {f"{base}/{p}" for p in ["", "about", "blog/1", "a?x=1&y=2"]} | set(listed[:5])
    assert pages == expected
    assert "http://elsewhere.test/x" not in r.by_url  # scope still applies
    assert r.by_url[f"{base}/product/0"]["parent"] == f"{base}/sitemaps/products.xml.gz"
    assert r.by_url[f"{base}/product/0"]["depth"] == 1


async def test_without_the_option_sitemaps_are_not_read(site, crawl):
    site.html("n.test", "/", "home")

    async def sitemap(_: web.Request) -> web.Response:
        return web.Response(body=urlset([site.url("n.test", "/hidden")]), content_type="application/xml")

    site.route("n.test", "/sitemap.xml", sitemap)
    r = await crawl(start_urls=[site.url("n.test")], resolve=site.pin("n.test"))
    assert len(r.records) == 1 and site.hits[("n.test", "/sitemap.xml")] == 0


async def test_gzip_bomb_sitemap_is_refused_with_a_warning(site, crawl):
    bomb = gzip.compress(b"<urlset>" + b" " * 50_000_000 + b"</urlset>")

    async def sitemap(_: web.Request) -> web.Response:
        return web.Response(body=bomb, content_type="application/gzip")

    site.html("b.test", "/", "home")
    site.route("b.test", "/sitemap.xml", sitemap)
    r = await crawl(start_urls=[site.url("b.test")], resolve=site.pin("b.test"), sitemaps=True, max_bytes=1_000_000)
    assert len(r.records) == 1 and r.records[0]["status"] == 200
    assert any("larger than max_bytes" in w for w in r.stats.warnings)
