"""An ``on_item`` hook that writes each extracted product into a SQLite table as the crawl goes.

The job names it ``on_item: sqlite_sink:save``; the crawl calls ``save(item)`` once per item, in
its own process, as the item is written to ``items.jsonl``. One row per product URL: a re-crawl
that extracts the product again updates its row. Each row is committed at once (WAL), so another
program can read the table while the crawl runs, and a crawl that is killed loses no saved row.
The database is ``items.sqlite`` in the current directory, or the file ``ITEMS_DB`` names.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS products (
    url TEXT PRIMARY KEY,  -- the product page
    sku TEXT,
    name TEXT,
    price REAL,
    item TEXT NOT NULL,  -- the whole item as JSON, fields the columns do not name included
    saved_at TEXT NOT NULL DEFAULT (datetime('now'))
)"""

UPSERT = """INSERT INTO products (url, sku, name, price, item) VALUES (:url, :sku, :name, :price, :item)
ON CONFLICT (url) DO UPDATE SET sku = excluded.sku, name = excluded.name, price = excluded.price,
    item = excluded.item, saved_at = datetime('now')"""


@functools.cache
def database() -> sqlite3.Connection:
    """Opened at the first item (not at import: the crawl imports hooks before it starts)."""
    db = sqlite3.connect(os.environ.get("ITEMS_DB", "items.sqlite"), isolation_level=None)  # autocommit
    db.execute("PRAGMA journal_mode = WAL")  # readers do not block the crawl, nor it them
    db.execute("PRAGMA synchronous = NORMAL")  # a commit without fsync: a row per item stays cheap
    db.execute(SCHEMA)
    return db


def save(item: dict[str, Any]) -> None:
    """Upsert one item (a dict: the rule's fields plus ``url`` and ``rule``)."""
    row = {key: item.get(key) for key in ("url", "sku", "name", "price")}
    database().execute(UPSERT, {**row, "item": json.dumps(item, ensure_ascii=False)})
