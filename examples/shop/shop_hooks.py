"""Hooks for a shop whose clean data sits in JSON inside each product page, whose rating is drawn
as star icons, and whose category listings link with ``data-href`` instead of ``<a>``: three
things YAML rules cannot express. Run with ``crawler run examples/shop/job.yaml [URL]``."""

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
    url: str


def parse(page: Page) -> Iterator[Product | Follow]:
    for node in page.css("[data-href]"):  # listing tiles: not links to the crawler's rules
        yield page.follow(node.attributes.get("data-href") or "")
    data = page.css_first('script[type="application/json"]#product')
    if data is not None:
        product = json.loads(data.text())
        yield Product(sku=product["sku"], name=product["name"], price=float(product["offers"]["price"]),
                      rating=len(page.css(".stars .filled")), url=page.url)
