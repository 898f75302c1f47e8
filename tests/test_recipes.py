"""Every recipe of ``docs/recipes/`` is a complete job: each test runs it with the real CLI, as its
page says (``crawler run docs/recipes/NAME.yaml``), against a local site that plays the recipe's
hosts (``tests/helpers/recipe_sites.py``), and checks what a reader would notice: the pages
crawled, the items and their values, the database filled, the re-crawl's changes, the shared job
merged, the rendered pages, the proxy each country went through.

Only what cannot exist here is given on the command line: the start URLs moved to the local
server's port over plain HTTP (same hosts and paths, pinned with ``--resolve``), the output folder,
and in two recipes the proxies and the Redis server (``tests/helpers/recipes.py``)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from yarl import URL

from tests.helpers.cli import run_cli
from tests.helpers.markdown_blocks import blocks
from tests.helpers.output import read_records
from tests.helpers.recipe_sites import (
    ARTICLES,
    BOOKS,
    COUNTRY_SHOPS,
    JS_PRODUCTS,
    SHOP_PRODUCTS,
    Blog,
    books,
    catalogue,
    country_shops,
    js_shop,
    news,
    shop,
)
from tests.helpers.recipes import RECIPES, by_path, derived, local_url, read_jsonl, recipe, run_args
from tests.helpers.site import Site
from tests.test_cluster import hold, registered

STARS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}
TESTED = {  # each recipe's test below: a new recipe needs one
    "pagination",
    "sitemap-only",
    "country-proxies",
    "nightly-recrawl",
    "js-shop",
    "three-machines",
    "sqlite-sink",
}


def test_every_recipe_is_tested_listed_and_shown_whole_on_its_page() -> None:
    """A recipe is its job file, the page of the same name that shows it (the block's equality
    with the file: tests/test_docs_examples.py), and a line of the index."""
    names = {p.stem for p in RECIPES.glob("*.yaml")}
    assert names == TESTED
    assert {p.stem for p in RECIPES.glob("*.md")} == names | {"index"}
    index = (RECIPES / "index.md").read_text()
    for name in names:
        assert f"]({name}.md)" in index and f"]({name}.yaml)" in index, name
        assert f"file: {name}.yaml" in {b.marker for b in blocks(RECIPES / f"{name}.md")}, name


async def crawled(name: str | Path, site: Site, out: Path, *extra: str, cwd: Path | None = None) -> str:
    """Run the recipe (a name in docs/recipes/, or a job file) on the site; its stderr."""
    job = recipe(name) if isinstance(name, str) else name
    code, _, err = await run_cli(*run_args(job, site, out, *extra), cwd=cwd)
    assert code == 0, err
    return err


def pages(out: Path) -> set[str]:
    """The paths of the pages the crawl fetched (status 200)."""
    return {path for path, r in by_path(read_records(out)).items() if r["status"] == 200}


async def test_pagination_follows_next_links_only_and_takes_every_book(site: Site, tmp_path: Path) -> None:
    books(site)
    await site.start()
    await crawled("pagination", site, tmp_path / "out")

    assert pages(tmp_path / "out") == {f"/catalogue/page-{n}.html" for n in (1, 2, 3)}
    items = read_jsonl(tmp_path / "out" / "items.jsonl")
    assert [(i["title"], i["price"], i["rating"], i["in_stock"]) for i in items] == [
        (title, float(price.lstrip("£")), STARS[stars], stock == "In stock") for _, title, price, stars, stock in BOOKS
    ]
    assert items[0]["link"] == site.url("books.example", "/book/a-light-in-the-attic.html")
    assert not any(r.get("extract_errors") for r in read_records(tmp_path / "out"))


async def test_sitemap_only_crawls_the_listed_pages_and_nothing_they_link_to(site: Site, tmp_path: Path) -> None:
    await site.start()
    news(site)  # (once the site listens: the sitemaps name its port)
    await crawled("sitemap-only", site, tmp_path / "out")

    assert pages(tmp_path / "out") == {"/robots.txt", *ARTICLES}
    assert site.hits[("news.example", "/")] == site.hits[("news.example", "/tag/garden")] == 0
    records = by_path(read_records(tmp_path / "out"))
    assert records["/articles/rain"]["parent"] == site.url("news.example", "/sitemaps/articles.xml.gz")
    items = {i["headline"]: i["published"] for i in read_jsonl(tmp_path / "out" / "items.jsonl")}
    assert items == {path.rsplit("/", 1)[1].title(): day for path, day in ARTICLES.items()}


async def test_each_country_goes_through_its_own_pool_and_the_rest_go_direct(
    site: Site, tmp_path: Path, proxies: Any
) -> None:
    """The recipe's pools are placeholders: each becomes a real local proxy, microsocks
    (``socks5://``), and the crawl resolves the recipe's host names with the ``--resolve`` pins.
    Not tinyproxy: an HTTP proxy resolves the target's name itself, and cannot reach a pinned
    name. Over the curl transport: the aiohttp transport's SOCKS connector resolves the target's
    name on its own too, ignoring the pins (a bug of the crawler's, reported). Routing, which is
    the recipe's point, is the same for every kind of proxy and both transports."""
    germany, france = await proxies("socks5", 2)
    job = derived("country-proxies", tmp_path, proxy_pools={"germany": [germany.url()], "france": [france.url()]})
    country_shops(site)
    await site.start()
    await crawled(job, site, tmp_path / "out", "--transport", "curl")

    via = {"shop.example.de": germany, "shop.example.fr": france}
    for host in COUNTRY_SHOPS:
        expected = via[host].source if host in via else "127.0.0.1"  # direct
        assert {peer for h, _, peer in site.remotes if h == host} == {expected}, host
    proxy_of = {URL(r["url"]).host: r["proxy"] for r in read_records(tmp_path / "out")}
    assert proxy_of == {"shop.example.de": germany.id, "shop.example.fr": france.id, "shop.example.com": None}
    prices = {
        URL(i["url"]).host: (i["price"], i["currency"], i["shown"])
        for i in read_jsonl(tmp_path / "out" / "items.jsonl")
    }
    assert prices == {host: (float(price), currency, shown) for host, (shown, price, currency) in COUNTRY_SHOPS.items()}


async def test_nightly_recrawl_fetches_nothing_the_same_day_and_marks_what_changed_the_next(
    site: Site, tmp_path: Path
) -> None:
    blog = Blog()
    blog.serve(site)
    await site.start()
    out = tmp_path / "out"
    await crawled("nightly-recrawl", site, out)
    first = read_records(out)
    assert {(URL(r["url"]).path, r["change"]) for r in first} == {
        (p, "new") for p in ("/", "/post/1", "/post/2", "/about")
    }

    site.hits.clear()
    await crawled("nightly-recrawl", site, out)  # the same day: nothing is 20 h old yet
    assert not [key for key in site.hits if key[1] != "/robots.txt"]
    assert read_records(out) == first

    blog.edited = True
    site.headers.clear()
    await crawled("nightly-recrawl", site, out, "--recrawl-after", "0")  # as the next night's run would
    latest = [r for r in read_records(out) if r["crawl"] == max(r["crawl"] for r in read_records(out))]
    assert {URL(r["url"]).path: r["change"] for r in latest} == {
        "/": "unchanged",
        "/post/1": "unchanged",
        "/post/2": "changed",
        "/about": "unchanged",
    }
    assert by_path(latest)["/post/1"]["status"] == 304  # asked with the ETag of the first night
    assert any(h.get("If-None-Match") == '"p1"' for h in site.headers)
    assert [(URL(c["url"]).path, c["change"]) for c in read_jsonl(out / "changes.jsonl")] == [("/post/2", "changed")]


async def test_js_product_pages_are_rendered_and_give_their_items(site: Site, tmp_path: Path) -> None:
    js_shop(site)
    await site.start()
    await crawled("js-shop", site, tmp_path / "out")

    records = by_path(read_records(tmp_path / "out"))
    assert {p: r["rendered"] for p, r in records.items() if r["status"] == 200} == {
        "/": False,  # plain HTML: fetched over HTTP
        "/product/42": True,
        "/product/43": True,
    }
    items = {i["name"]: i["price"] for i in read_jsonl(tmp_path / "out" / "items.jsonl")}
    assert items == dict(JS_PRODUCTS.values())  # written by the pages' scripts
    assert site.hits[("app.example", "/api/products/42.json")] == 1  # the browser's request


async def test_three_workers_share_one_redis_job_and_merge_into_one_record_per_url(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    paths = catalogue(site)
    go = hold(site)  # no page before all three workers are up
    await site.start()
    out = tmp_path / "out"
    workers = [
        asyncio.create_task(
            crawled("three-machines", site, out, "--frontier", redis_url, "--worker-id", f"box{n}", "-q")
        )
        for n in (1, 2, 3)
    ]
    await registered(redis_url, "catalogue", 3)
    go.set()
    await asyncio.gather(*workers)

    assert sorted(p.name for p in (out / "shards").iterdir()) == ["box1", "box2", "box3"]
    code, merged, err = await run_cli("merge", str(out))
    assert code == 0, err
    records = read_records(out)
    assert sorted(URL(r["url"]).path for r in records) == sorted(paths)  # one record per URL
    assert {r["status"] for r in records} == {200}
    assert {r["worker"] for r in records} <= {"box1", "box2", "box3"}
    assert all((out / r["path"]).is_file() for r in records)  # paths relative to OUT


async def test_items_fill_the_sqlite_table_through_on_item(site: Site, tmp_path: Path) -> None:
    shop(site)
    await site.start()
    await crawled("sqlite-sink", site, tmp_path / "out", cwd=tmp_path)  # items.sqlite: in the current directory

    with sqlite3.connect(tmp_path / "items.sqlite") as db:
        rows = set(db.execute("SELECT url, sku, name, price FROM products"))
    assert rows == {
        (local_url(f"https://shop.example/product/{slug}", site), sku, name, float(price.strip("£").replace(",", "")))
        for slug, (name, price, sku) in SHOP_PRODUCTS.items()
    }
