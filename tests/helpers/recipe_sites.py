"""Small local sites for the recipes of ``docs/recipes/``: each plays the hosts its recipe names
(``books.example``, ``news.example``, …) on the ``site`` fixture's server, so a recipe's job runs as
written with ``--resolve`` pins. What each site holds is what its test expects back."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from aiohttp import web

from tests.helpers.site import Site


def page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


def serve(site: Site, host: str, path: str, body: str | bytes, content_type: str = "text/html") -> None:
    """Serve ``body`` as it is at ``host`` ``path``."""
    data = body.encode() if isinstance(body, str) else body

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=data, content_type=content_type)

    site.route(host, path, handler)


# --- pagination: books.example, three listing pages linked by "next" ----------------------------

BOOKS = [  # (page, title, price text, stars, availability)
    (1, "A Light in the Attic", "£51.77", "Three", "In stock"),
    (1, "Tipping the Velvet", "£53.74", "One", "In stock"),
    (1, "Soumission", "£50.10", "One", "Out of stock"),
    (2, "Sharp Objects", "£47.82", "Four", "In stock"),
    (2, "Sapiens", "£54.23", "Five", "In stock"),
    (3, "The Requiem Red", "£22.65", "One", "In stock"),
]
BOOK_PAGES = 3


def books(site: Site) -> None:
    """A catalogue of BOOK_PAGES listing pages (each with a "next" link but the last, links to
    each book's own page and to categories, which the recipe does not follow)."""
    for n in range(1, BOOK_PAGES + 1):
        cards = "".join(
            f'<article class="product_pod"><h3><a href="../book/{title.lower().replace(" ", "-")}.html" '
            f'title="{title}">{title[:10]}…</a></h3><p class="star-rating {stars}"></p>'
            f'<p class="price_color">{price}</p><p class="availability"> {stock} </p></article>'
            for p, title, price, stars, stock in BOOKS
            if p == n
        )
        pager = f'<li class="next"><a href="page-{n + 1}.html">next</a></li>' if n < BOOK_PAGES else ""
        side = '<ul class="side"><li><a href="/category/poetry.html">Poetry</a></li></ul>'
        body = f'{side}{cards}<ul class="pager"><li class="current">Page {n}</li>{pager}</ul>'
        serve(site, "books.example", f"/catalogue/page-{n}.html", page(f"Page {n}", body))


# --- sitemap-only: news.example, pages listed in a (gzipped) sitemap under an index --------------

ARTICLES = {"/articles/rain": "2026-06-01", "/articles/seeds": "2026-05-12", "/articles/beans": "2026-07-20"}


def urlset(locs: list[str]) -> str:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def news(site: Site) -> None:
    """robots.txt names a sitemap index, whose gzipped child lists ARTICLES; each article links to
    a tag page and the home page, which the sitemap does not list. Called once the site listens:
    the sitemaps name its port."""
    base = site.url("news.example").rstrip("/")
    serve(
        site,
        "news.example",
        "/robots.txt",
        f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap-index.xml\n",
        "text/plain",
    )
    index = f'<?xml version="1.0"?><sitemapindex><sitemap><loc>{base}/sitemaps/articles.xml.gz</loc></sitemap></sitemapindex>'
    serve(site, "news.example", "/sitemap-index.xml", index, "application/xml")
    serve(
        site,
        "news.example",
        "/sitemaps/articles.xml.gz",
        gzip.compress(urlset([base + p for p in ARTICLES]).encode()),
        "application/gzip",
    )
    for path, day in ARTICLES.items():
        body = f'<h1>{path.rsplit("/", 1)[1].title()}</h1><time datetime="{day}">{day}</time><a href="/tag/garden">garden</a><a href="/">home</a>'
        serve(site, "news.example", path, page(path, body))
    serve(site, "news.example", "/", page("Home", '<a href="/about">about</a>'))
    serve(site, "news.example", "/tag/garden", page("Garden", "tagged"))


# --- per-country proxies: the same shop under three country domains ------------------------------

COUNTRY_SHOPS = {  # host: (price shown, price, currency)
    "shop.example.de": ("19,99 €", "19.99", "EUR"),
    "shop.example.fr": ("21,50 €", "21.50", "EUR"),
    "shop.example.com": ("$24.00", "24.00", "USD"),
}


def country_shops(site: Site) -> None:
    """Each country's shop: a home page linking one product, its price shown in local form and
    given in schema.org microdata."""
    for host, (shown, price, currency) in COUNTRY_SHOPS.items():
        offer = (
            f'<div itemprop="offers" itemscope itemtype="https://schema.org/Offer"><span class="price">{shown}</span>'
            f'<meta itemprop="price" content="{price}"><meta itemprop="priceCurrency" content="{currency}"></div>'
        )
        product = f'<div itemscope itemtype="https://schema.org/Product"><h1 class="name" itemprop="name">Kettle</h1>{offer}</div>'
        serve(site, host, "/", page("Shop", '<a href="/product/kettle">Kettle</a>'))
        serve(site, host, "/product/kettle", page("Kettle", product))


# --- nightly re-crawl: blog.example, one page that changes between nights -----------------------


@dataclass
class Blog:
    """blog.example: ``/post/1`` answers conditional requests with 304, ``/post/2`` is edited
    when ``edited`` is set, ``/about`` never changes (and sends no validators)."""

    edited: bool = False

    def serve(self, site: Site) -> None:
        serve(
            site,
            "blog.example",
            "/",
            page("Blog", '<a href="/post/1">one</a><a href="/post/2">two</a><a href="/about">about</a>'),
        )
        site.route("blog.example", "/post/1", self.post_1)
        site.route("blog.example", "/post/2", self.post_2)
        serve(site, "blog.example", "/about", page("About", "about us"))

    async def post_1(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"p1"':
            return web.Response(status=304, headers={"ETag": '"p1"'})
        return web.Response(text=page("One", "first post"), content_type="text/html", headers={"ETag": '"p1"'})

    async def post_2(self, _: web.Request) -> web.Response:
        text = "second post, edited" if self.edited else "second post"
        return web.Response(text=page("Two", text), content_type="text/html")


# --- a shop with JS product pages: app.example ----------------------------------------------------

JS_PRODUCTS = {"42": ("Kettle", 24.5), "43": ("Teapot", 31.0)}
JS_PRODUCT = """<html><head><title>Product</title></head><body><div id=app>loading…</div><script>
fetch("/api/products/" + location.pathname.split("/").pop() + ".json").then(r => r.json()).then(p => {
  document.getElementById("app").innerHTML =
    '<h1 class="name">' + p.name + '</h1><span class="price">£' + p.price.toFixed(2) + '</span>';
});
</script></body></html>"""


def js_shop(site: Site) -> None:
    """A plain HTML home page linking product pages that are empty shells until their script
    fetches the product's JSON and writes its name and price."""
    links = "".join(f'<a href="/product/{pid}">{name}</a>' for pid, (name, _) in JS_PRODUCTS.items())
    serve(site, "app.example", "/", page("Shop", f"<h1>Our products</h1>{links}"))
    for pid, (name, price) in JS_PRODUCTS.items():
        serve(site, "app.example", f"/product/{pid}", JS_PRODUCT)
        serve(
            site,
            "app.example",
            f"/api/products/{pid}.json",
            f'{{"name": "{name}", "price": {price}}}',
            "application/json",
        )


# --- three machines on one Redis: catalogue.example ----------------------------------------------

CATALOGUE_PAGES = 12


def catalogue(site: Site) -> set[str]:
    """A home page linking CATALOGUE_PAGES item pages; returns every page's path."""
    links = "".join(f'<a href="/item/{i}">item {i}</a>' for i in range(CATALOGUE_PAGES))
    serve(site, "catalogue.example", "/", page("Catalogue", links))
    for i in range(CATALOGUE_PAGES):
        serve(site, "catalogue.example", f"/item/{i}", page(f"Item {i}", f'<h1>Item {i}</h1><a href="/">home</a>'))
    return {"/"} | {f"/item/{i}" for i in range(CATALOGUE_PAGES)}


# --- a crawl feeding SQLite: shop.example ----------------------------------------------------------

SHOP_PRODUCTS = {
    "kettle": ("Kettle", "£24.50", "KT-1"),
    "teapot": ("Teapot", "£1,031.00", "TP-7"),
    "mug": ("Mug", "£4.00", "MG-3"),
}


def shop(site: Site) -> None:
    """A category page linking three product pages (name, price, SKU) and an about page."""
    links = "".join(
        f'<a class="product" href="/product/{slug}">{name}</a>' for slug, (name, _, _) in SHOP_PRODUCTS.items()
    )
    serve(site, "shop.example", "/", page("Shop", f'{links}<a href="/about">about</a>'))
    serve(site, "shop.example", "/about", page("About", "a shop"))
    for slug, (name, price, sku) in SHOP_PRODUCTS.items():
        body = f'<h1 class="name">{name}</h1><span class="price">{price}</span><span class="sku">SKU: {sku}</span>'
        serve(site, "shop.example", f"/product/{slug}", page(name, body))
