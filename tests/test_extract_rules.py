"""Extraction rules on a shop whose data is awkward the way real shops are: star icons, stock as
text, prices in several formats, JSON-LD, microdata, variants, a price that cannot be read. Run
through the CLI with a YAML job, as a user would."""

from __future__ import annotations

import json

import pytest
import yaml
from yarl import URL

from crawler.parsing.values import Unconvertible, number
from tests.helpers.cli import run_cli

PRODUCTS = [  # (price as shown, price, stars, stock text, in stock, variants)
    ("£1,234.50", 1234.5, 3, "In stock", True, [("V-0a", "£10.00", 10.0)]),
    ("$12", 12.0, 5, "in stock (2 left)", True, []),
    ("12.99 USD", 12.99, 0, "Out of stock", False, [("V-2a", "£1.50", 1.5), ("V-2b", "£2", 2.0)]),
    ("Call for price", None, 1, "Out of Stock", False, []),  # the price that cannot be read
]


def product_html(i: int) -> str:
    shown, _, stars, stock, _, variants = PRODUCTS[i]
    icons = "".join(f'<span class="star{" filled" if s < stars else ""}">★</span>' for s in range(5))
    tiles = "".join(
        f'<div class="variant"><span class="sku">{sku}</span><b class="vprice">{p}</b></div>' for sku, p, _ in variants
    )
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "BreadcrumbList", "itemListElement": []},
            {"@type": "Product", "sku": f"SKU-{i}", "offers": {"@type": "Offer", "price": f"{i}.25"}},
        ],
    }
    return f"""<html><head><title>P{i}</title>
<script type="application/ld+json">{json.dumps(ld)}</script>
<script type="application/ld+json">{{not json</script></head><body>
<h1 class="name">  Widget   {i} </h1>
<span class="price">{shown}</span>
<div class="stars">{icons}</div>
<p class="stock">{stock}</p>
<ul class="tags"><li>new</li><li>tools</li><li>sale</li></ul>
<p class="code">Code: AB-CD-{i}</p>
<time class="added">{i + 1} March 2026</time>
{tiles}
<div itemscope itemtype="https://schema.org/Product"><meta itemprop="gtin" content="000{i}">
  <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
    <span itemprop="price" content="{i}.75">about {i}</span></div></div>
</body></html>"""


def eu_html() -> str:
    return '<html><body><h1 class="name">Euro</h1><span class="price">1.234,50 €</span></body></html>'


JOB = {
    "extract": [
        {
            "name": "product",
            "match": "*/p/*",
            "fields": {
                "name": "h1.name",
                "price": {"css": ".price", "type": "float"},
                "rating": {"css": ".stars .star.filled", "count": True},
                "in_stock": {"css": ".stock", "map": {"re:(?i)^in stock": True, "re:(?i)^out of stock": False}},
                "tags": {"css": ".tags li", "all": True},
                "tag_line": {"css": ".tags li", "slice": [0, 2], "join": ", "},
                "code": {"css": ".code", "regex": r"Code: (\S+)", "split": "-", "last": True},
                "added": {"css": ".added", "type": "date", "format": "%d %B %Y"},
                "sku": {"jsonld": "Product.sku"},
                "offer_price": {"jsonld": "Offer.price", "type": "float"},
                "gtin": {"microdata": "Product.gtin"},
                "micro_price": {"microdata": "Product.offers.price", "type": "float"},
                "variants": {
                    "items": ".variant",
                    "fields": {"sku": ".sku", "price": {"css": ".vprice", "type": "float"}},
                },
                "color": {"css": ".color", "default": "none"},
            },
        },
        {"name": "eu", "match": "*/eu", "fields": {"price": {"css": ".price", "type": "float", "decimal": ","}}},
    ]
}


def expected_item(url: str, i: int) -> dict:
    _, price, stars, _, in_stock, variants = PRODUCTS[i]
    return {
        "url": url,
        "rule": "product",
        "name": f"Widget {i}",
        "price": price,
        "rating": stars,
        "in_stock": in_stock,
        "tags": ["new", "tools", "sale"],
        "tag_line": "new, tools",
        "code": str(i),
        "added": f"2026-03-0{i + 1}",
        "sku": f"SKU-{i}",
        "offer_price": i + 0.25,
        "gtin": f"000{i}",
        "micro_price": i + 0.75,
        "variants": [{"sku": s, "price": p} for s, _, p in variants],
        "color": "none",
    }


async def test_every_field_comes_out_right_and_the_unreadable_price_is_reported(site, tmp_path):
    links = "".join(f'<a href="/p/{i}">{i}</a>' for i in range(len(PRODUCTS))) + '<a href="/eu">eu</a>'
    site.html("shop.test", "/", links)
    for i in range(len(PRODUCTS)):
        site.html("shop.test", f"/p/{i}", "")
        site.routes[("shop.test", f"/p/{i}")] = _page(product_html(i))
    site.routes[("shop.test", "/eu")] = _page(eu_html())
    await site.start()
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                **JOB,
                "start_urls": [site.url("shop.test")],
                "resolve": site.pin("shop.test"),
                "output": str(tmp_path / "o"),
            }
        )
    )

    code, out, err = await run_cli("run", str(job))

    assert code == 0, err
    items = {i["url"]: i for i in map(json.loads, (tmp_path / "o" / "items.jsonl").read_text().splitlines())}
    for i in range(len(PRODUCTS)):
        url = site.url("shop.test", f"/p/{i}")
        assert items[url] == expected_item(url, i)
    assert items[site.url("shop.test", "/eu")]["price"] == 1234.5
    records = {r["url"]: r for r in map(json.loads, (tmp_path / "o" / "records.jsonl").read_text().splitlines())}
    problems = {URL(u).path: r["extract_errors"] for u, r in records.items() if r.get("extract_errors")}
    assert problems == {"/p/3": ["product.price: 'Call for price' is not one number (none found)"]}
    assert "extraction errors: 1 on 1 pages" in err


def _page(html: str):
    from aiohttp import web

    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    return handler


async def test_check_shows_each_fields_match_and_value_and_why_a_bool_failed(site, tmp_path):
    site.html("shop.test", "/p/0", "")
    site.routes[("shop.test", "/p/0")] = _page(product_html(0))
    await site.start()
    job = tmp_path / "job.yaml"
    naive = {
        "name": "naive",
        "match": "*",
        "fields": {
            "in_stock": {"css": ".stock", "type": "bool", "default": False},  # the README trap of old
            "maybe": {"css": ".stock", "type": "bool", "default": False, "default_on_error": True},
            "stars": {"css": ".star.filled", "count": True},
        },
    }
    job.write_text(
        yaml.safe_dump({"extract": [naive], "start_urls": [site.url("shop.test")], "resolve": site.pin("shop.test")})
    )

    code, out, err = await run_cli("check", str(job), "--url", site.url("shop.test", "/p/0"))

    assert code == 0, err
    assert "naive.stars: ['★', '★', '★'] → 3" in out
    assert (
        "naive.in_stock: ['In stock'] → error: 'In stock' is not a bool word (true/false, yes/no, "
        "on/off, y/n, 1/0); use map: for other words"
    ) in out
    assert '"in_stock": null' in out and '"maybe": false' in out
    assert "extraction problems (1):" in out


@pytest.mark.parametrize(
    "raw, decimal, value",
    [
        ("£1,234.50", ".", 1234.5),
        ("1.234,50 €", ",", 1234.5),
        ("1 234,50", ",", 1234.5),
        ("CHF 1'234.50", ".", 1234.5),
        ("-3", ".", -3.0),
        ("1,234", ".", 1234.0),
        ("Price: 12.", ".", 12.0),
    ],
)
def test_number_formats(raw, decimal, value):
    assert number(raw, decimal) == value


@pytest.mark.parametrize(
    "raw, decimal, value",
    [
        ("$59K", ".", 59_000),
        ("59k followers", ".", 59_000),
        ("1.2M", ".", 1_200_000),
        ("$1.15M", ".", 1_150_000),
        ("3 bn", ".", 3e9),
        ("£5m", ".", 5_000_000),
        ("1,5 Mio €", ",", 1_500_000),
        ("2.5 million", ".", 2_500_000),
        ("10K+", ".", 10_000),
    ],
)
def test_multipliers_scale_the_number(raw, decimal, value):
    assert number(raw, decimal) == value


@pytest.mark.parametrize("raw, value", [("12kg", 12), ("59 KB", 59), ("5 Mbps", 5), ("5m", 5), ("59Kx", 59)])
def test_a_unit_that_starts_like_a_multiplier_is_a_unit(raw, value):
    assert number(raw) == value


def test_int_field_reads_a_multiplier_and_regex_runs_on_every_match_before_first():
    from selectolax.lexbor import LexborHTMLParser

    from crawler.parsing.extract import Extractor
    from crawler.parsing.rules import ExtractRule

    html = '<li class="s">Followers: 12</li><li class="s">Revenue: $59K</li>'
    rule = ExtractRule.model_validate(
        {
            "name": "c",
            "fields": {
                "revenue": {"css": '.s:lexbor-contains("Revenue")', "type": "int"},
                "first_number": {"css": ".s", "regex": r"\$(\S+)", "type": "int"},  # the first li has no "$"
            },
        }
    )
    items, errors = Extractor([rule]).extract(LexborHTMLParser(html), URL("http://shop.test/c"))
    assert items[0]["revenue"] == 59_000
    assert items[0]["first_number"] is None
    assert len(errors) == 1 and errors[0].startswith("c.first_number: 'Followers: 12' does not match regex")


@pytest.mark.parametrize(
    "raw, decimal", [("1,23", "."), ("3 for 10", "."), ("12 99", "."), ("n/a", "."), ("1.5", ","), ("£10 - £20", ".")]
)
def test_ambiguous_or_missing_numbers_are_errors_not_guesses(raw, decimal):
    with pytest.raises(Unconvertible):
        number(raw, decimal)


async def test_a_bad_rule_is_one_line_at_start(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "start_urls": ["http://127.0.0.1:9/"],
                "extract": [{"name": "p", "fields": {"price": {"css": ".p", "jsonld": "Product.offers.price"}}}],
            }
        )
    )
    code, out, err = await run_cli("run", str(job))
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "give exactly one of css:, jsonld:, microdata:" in err


def test_script_json_text_steps_and_nested_objects():
    from selectolax.lexbor import LexborHTMLParser

    from crawler.parsing.extract import Extractor
    from crawler.parsing.rules import ExtractRule

    html = """<script id="data" type="application/json">{"offers": [{"price": "9.50"}, {"price": "7"}]}</script>
    <p class="sku">  #sku-0042; </p><div class="ship"><b class="days">3 days</b><i class="by">DHL</i></div>
    <div class="v"><s class="sku">A</s><s class="n">2</s></div><div class="v"><s class="n">5</s></div>"""
    rule = ExtractRule.model_validate(
        {
            "name": "p",
            "fields": {
                "prices": {"css": "script#data", "json": "offers.price", "all": True, "type": "float"},
                "second": {"css": "script#data", "json": "offers.1.price", "type": "int"},
                "sku": {"css": ".sku", "strip": "#; ", "replace": {"sku-": "", "re:^0+": ""}, "type": "int"},
                "shipping": {"css": ".ship", "fields": {"days": {"css": ".days", "type": "int"}, "by": ".by"}},
                "variants": {
                    "items": ".v",
                    "fields": {"sku": {"css": ".sku", "required": True}, "n": {"css": ".n", "type": "int"}},
                },
            },
        }
    )
    items, errors = Extractor([rule]).extract(LexborHTMLParser(html), URL("http://shop.test/p"))
    assert items == [
        {
            "url": "http://shop.test/p",
            "rule": "p",
            "prices": [9.5, 7.0],
            "second": 7,
            "sku": 42,
            "shipping": {"days": 3, "by": "DHL"},
            "variants": [{"sku": "A", "n": 2}],
        }
    ]
    assert errors == ["p.variants[1].sku: nothing matches '.sku' (required: object left out)"]


def test_url_fields_are_the_browsers_urls():
    """A ``type: url`` field holds the URL a browser would open from that href: backslashes,
    stray whitespace, literal ``%`` and spaces in a query as a browser reads them."""
    from selectolax.lexbor import LexborHTMLParser

    from crawler.parsing.extract import Extractor
    from crawler.parsing.rules import ExtractRule

    html = """<a class="b" href="\\img\\1.png">x</a><a class="p" href="/r/50%off">x</a>
    <a class="q" href="?q= a b&amp;x=1#top">x</a><a class="s" href="https:/other.test/x">x</a>"""
    kinds = {name: {"css": f"a.{name}", "attr": "href", "type": "url"} for name in "bpqs"}
    rule = ExtractRule.model_validate({"name": "u", "fields": kinds})
    items, errors = Extractor([rule]).extract(LexborHTMLParser(html), URL("http://shop.test/dir/p?old"))
    assert errors == []
    assert items[0] == {
        "url": "http://shop.test/dir/p?old",
        "rule": "u",
        "b": "http://shop.test/img/1.png",
        "p": "http://shop.test/r/50%off",
        "q": "http://shop.test/dir/p?q=%20a%20b&x=1",
        "s": "https://other.test/x",
    }
