"""``crawler report OUT``: ``OUT/report.html``, one self-contained page about a crawl."""

from __future__ import annotations

import os
from pathlib import Path

from crawler.observe.report.data import read
from crawler.observe.report.html import render


def build(out: Path, target: Path | None = None) -> Path:
    """Write the report of the crawl in ``out`` (atomically) and return its path."""
    if not (out / "records.jsonl").is_file() and not any((out / "shards").glob("*/records.jsonl")):
        raise FileNotFoundError(f"{out}: no records.jsonl here (nor in shards/): not a crawl's output")
    target = target or out / "report.html"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render(read(out)), encoding="utf-8")
    os.replace(tmp, target)
    return target
