"""Scraping without code: extraction and follow rules against a local e-commerce-like site."""

from __future__ import annotations

import json

import yaml
from aiohttp import web

from tests.helpers.cli import run_cli

CATEGORIES = ["tools", "garden", "kitchen"]
PRODUCTS = {f"{c[:3].upper()}-{p}{i}": (c, p, i) for c in CATEGORIES for p in (1, 2) for i in range(4)}


def product_data(sku: str) -> dict:
    c, p, i = PRODUCTS[sku]
    return {
        "name": f"{c.title()} thing {p}.{i}",
        "price": round(3.5 * (p * 10 + i) + 0.25, 2),
        "in_stock": (p + i) % 2 == 0,
    }


def shop(site, host: str = "shop.test") -> None:
    nav = "<nav class=categories>" + "".join(f'<a href="/category/{c}">{c}</a>' for c in CATEGORIES) + "</nav>"
    footer = '<footer><a href="/about">About</a><a href="/cart?add=1">Cart</a><a href="/blog/sale">Sale!</a></footer>'

    async def home(_: web.Request) -> web.Response:
        return web.Response(text=f"<html><title>Shop</title>{nav}{footer}</html>", content_type="text/html")

    def category(c: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=category_html(c, int(request.query.get("page", "1"))), content_type="text/html")

        return handler

    def category_html(c: str, page: int) -> str:
        cards = "".join(
            f'<div class="product-card"><a class="title" href="/product/{sku}">{product_data(sku)["name"]}</a>'
            f'<a href="/blog/review-{sku}">review</a></div>'
            for sku, (cc, p, _) in PRODUCTS.items()
            if cc == c and p == page
        )
        pager = '<div class="pagination"><a href="?page=2">next</a></div>' if page == 1 else ""
        return f"<html><title>{c}</title>{nav}{cards}{pager}{footer}</html>"

    def product(sku: str):
        async def handler(_: web.Request) -> web.Response:
            return web.Response(text=product_html(sku), content_type="text/html")

        return handler

    def product_html(sku: str) -> str:
        if sku == "BROKEN":
            return f"<html><h1>Broken</h1><span class=sku>SKU: {sku}</span></html>"
        d = product_data(sku)
        stock = "yes" if d["in_stock"] else "no"
        return (
            f"<html><title>{d['name']}</title>{nav}<h1 class=name> {d['name']} </h1>"
            f"<span class=price>Price: ${d['price']:.2f}</span><span class=sku>SKU: {sku}</span>"
            f"<span class=stock>{stock}</span><img class=main src='/img/{sku}.jpg'>{footer}</html>"
        )

    site.route(host, "/", home)
    for c in CATEGORIES:
        site.route(host, f"/category/{c}", category(c))
    for sku in [*PRODUCTS, "BROKEN"]:
        site.route(host, f"/product/{sku}", product(sku))


JOB = {
    "extract": [
        {
            "name": "product",
            "match": "*/product/*",
            "fields": {
                "name": "h1.name",
                "price": {"css": ".price", "regex": r"\$([\d.]+)", "type": "float", "required": True},
                "sku": {"css": ".sku", "regex": r"SKU: (\S+)", "required": True},
                "image": {"css": "img.main", "attr": "src", "type": "url"},
                "in_stock": {"css": ".stock", "type": "bool", "default": False},
            },
        },
        {
            "name": "listing",
            "match": "re:/category/",
            "items": ".product-card",
            "fields": {
                "title": "a.title",
                "link": {"css": "a.title", "attr": "href", "type": "url"},
            },
        },
    ],
    "follow": [{"css": "nav.categories"}, {"css": ".pagination"}, {"css": ".product-card", "match": "/product/"}],
}


async def test_yaml_job_extracts_every_product_and_follows_only_what_it_should(site, crawl):
    shop(site)
    r = await crawl(
        start_urls=[site.url("shop.test"), site.url("shop.test", "/product/BROKEN")],
        resolve=site.pin("shop.test"),
        ignore_robots=True,
        **yaml.safe_load(yaml.safe_dump(JOB)),
    )
    items = [json.loads(line) for line in (r.out / "items.jsonl").read_text().splitlines()]
    products = {i["sku"]: i for i in items if i["rule"] == "product"}
    assert set(products) == set(PRODUCTS)
    for sku, item in products.items():
        d = product_data(sku)
        assert (item["name"], item["price"], item["in_stock"]) == (d["name"], d["price"], d["in_stock"])
        assert item["url"] == site.url("shop.test", f"/product/{sku}")
        assert item["image"] == site.url("shop.test", f"/img/{sku}.jpg")
    listing = [i for i in items if i["rule"] == "listing"]
    assert sorted(i["link"] for i in listing) == sorted(site.url("shop.test", f"/product/{s}") for s in PRODUCTS)
    fetched = {path for (_, path) in site.hits}
    assert not any(p.startswith(("/blog", "/about", "/cart")) for p in fetched), fetched
    assert {f"/category/{c}?page=2" for c in CATEGORIES} <= fetched
    broken = r.by_url[site.url("shop.test", "/product/BROKEN")]
    assert broken["items"] == 0 and broken["status"] == 200
    assert broken["extract_errors"] == ["product.price: nothing matches '.price' (required: item dropped)"]
    assert r.stats.items == len(items) == 48


async def test_check_with_url_shows_items_and_links(site, tmp_path):
    shop(site)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"start_urls": [site.url("shop.test")], "resolve": site.pin("shop.test"), **JOB}))
    code, out, err = await run_cli("check", str(job), "--url", site.url("shop.test", "/category/tools"))
    assert code == 0, err
    assert "status 200" in out
    assert '"rule": "listing"' in out and out.count('"rule": "listing"') == 4
    assert site.url("shop.test", "/category/garden") in out and "?page=2" in out
    assert "/blog/" not in out.split("links to follow")[1]


async def test_csv_items_read_back(site, crawl):
    import csv

    shop(site)
    r = await crawl(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), ignore_robots=True, format="csv", **JOB
    )
    with open(r.out / "items.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert not (r.out / "items.jsonl").exists()
    assert list(rows[0]) == ["url", "rule", "name", "price", "sku", "image", "in_stock", "title", "link"]
    products = {row["sku"]: row for row in rows if row["rule"] == "product"}
    assert set(products) == set(PRODUCTS)
    for sku, row in products.items():
        d = product_data(sku)
        assert float(row["price"]) == d["price"] and row["in_stock"] == ("true" if d["in_stock"] else "false")
        assert row["title"] == "" and row["name"] == d["name"]
    assert len([row for row in rows if row["rule"] == "listing"]) == 24


async def test_items_resume_and_fresh(site, crawl, tmp_path):
    shop(site)
    out = tmp_path / "o"
    first = await crawl(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), ignore_robots=True, output=out, **JOB
    )
    with open(out / "items.jsonl", "ab") as f:
        f.write(b'{"url": "torn')  # a crash in the middle of a line
    again = await crawl(
        start_urls=[site.url("shop.test")], resolve=site.pin("shop.test"), ignore_robots=True, output=out, **JOB
    )
    lines = (out / "items.jsonl").read_text().splitlines()
    assert again.stats.resumed == len(first.records) and len(lines) == 48  # torn line cut, nothing added
    fresh = await crawl(
        start_urls=[site.url("shop.test")],
        resolve=site.pin("shop.test"),
        ignore_robots=True,
        output=out,
        fresh=True,
        **JOB,
    )
    assert fresh.stats.items == 48 and len((out / "items.jsonl").read_text().splitlines()) == 48
