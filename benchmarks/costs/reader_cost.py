"""CPU cost of the parser's work (PageReader.read: parse, links, scope) over a finished crawl's pages.

Usage: python benchmarks/costs/reader_cost.py OUT [ROUNDS]
  OUT is the output directory of a crawl (records.jsonl and pages/). Each round starts with a cold
  join cache, as a new parser process does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from crawler.config import Job
from crawler.parsing import parse
from crawler.parsing.page import Fetched
from crawler.parsing.reader import PageReader
from crawler.settings import reader_settings


def main() -> int:
    out, rounds = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3
    pages, seeds = [], set()
    with open(out / "records.jsonl", "rb") as f:
        for line in f:
            r = json.loads(line)
            if r["depth"] == 0:
                seeds.add(r["url"])
            if r["status"] == 200 and r["path"] and "html" in (r["content_type"] or ""):
                pages.append(Fetched(r["url"], (out / r["path"]).read_bytes(), r["content_type"], r["depth"]))
    for _ in range(rounds):
        reader = PageReader(reader_settings(Job.model_validate({"start_urls": sorted(seeds), "output": str(out)})))
        parse._join_in.cache_clear()
        started = time.perf_counter()
        links = sum(len(reader.read(page).links) for page in pages)
        took = time.perf_counter() - started
        print(f"{len(pages)} pages, {links} links to admit: {took:.3f} s, {took / len(pages) * 1e3:.3f} ms per page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
