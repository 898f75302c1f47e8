"""Hooks for a shop whose clean data sits in JSON inside each product page, whose rating is drawn
as star icons, and whose listing links with ``data-href`` instead of ``<a>``, naming the
category only on the tile: things YAML rules cannot express. The category travels from the
listing to the product page as the follow-request's ``meta`` (stored with the URL, so it survives
a crash and resume). Run with ``crawler run examples/shop/job.yaml [URL]``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from crawler import Follow, Page


@dataclass
class Product:
    sku: str
    name: str
    price: float
    rating: int  # filled stars
    category: str | None  # from the listing tile, through meta
    url: str


def parse(page: Page) -> Iterator[Product | Follow]:
    for node in page.css("[data-href]"):  # listing tiles: not links to the crawler's rules
        yield page.follow(
            node.attributes.get("data-href") or "", meta={"category": node.attributes.get("data-category")}
        )
    data = page.css_first('script[type="application/json"]#product')
    if data is not None:
        product = json.loads(data.text())
        yield Product(
            sku=product["sku"],
            name=product["name"],
            price=float(product["offers"]["price"]),
            rating=len(page.css(".stars .filled")),
            category=page.meta.get("category"),
            url=page.url,
        )
