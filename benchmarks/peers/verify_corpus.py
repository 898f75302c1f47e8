"""Check a crawl of the benchmark corpus against the files nginx serves.

Usage: python benchmarks/peers/verify_corpus.py OUT
  OUT is a crawl output directory of ../shared/bench/corpus.sh sites (e.g. compare.sh's
  $OUT/crawler). Prints how many status-200 pages were recorded and whether every body on disk
  is byte-identical to the served file and matches its record's sha256. Exit 1 on any mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from urllib.parse import unquote, urlsplit

ROOTS = {
    "python.docs.test": "/usr/share/doc/python3-doc/html",
    "postgres.docs.test": "/usr/share/doc/postgresql-doc-15/html",
    "django.docs.test": "/usr/share/doc/python-django-doc/html",
    "cpp.docs.test": "/usr/share/cppreference/doc/html",
}


def main(out: str) -> int:
    pages, bad = set(), []
    with open(os.path.join(out, "records.jsonl"), "rb") as f:
        for line in f:
            rec = json.loads(line)
            if rec["status"] != 200:
                continue
            pages.add(rec["url"])
            u = urlsplit(rec["url"])
            served = os.path.realpath(ROOTS[u.hostname]) + unquote(u.path)
            if served.endswith("/"):
                served += "index.html"
            with open(os.path.join(out, rec["path"]), "rb") as disk, open(served, "rb") as orig:
                body = disk.read()
                if body != orig.read() or hashlib.sha256(body).hexdigest() != rec["sha256"]:
                    bad.append(rec["url"])
    print(
        f"status-200 pages: {len(pages)}; bodies identical to served files: {len(pages) - len(bad)}; "
        f"different: {len(bad)}"
    )
    for url in bad[:20]:
        print("  differs:", url)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
